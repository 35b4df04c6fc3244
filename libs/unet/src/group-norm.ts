import * as tf from '@tensorflow/tfjs-core';
import { ensureGradientsRegistered } from './gradients.ts';

/** The GroupNorm epsilon of tf.contrib.layers.group_norm, which DDPM uses. */
export const GROUP_NORM_EPSILON = 1e-6;

/** What follows the normalisation: nothing, or SiLU (DDPM's `nonlinearity(normalize(h))`). */
export type GroupNormActivation = 'linear' | 'silu';

/**
 * Group normalisation (Wu & He 2018) of an NHWC tensor, with a per-channel affine transform and an optional SiLU.
 *
 * The C channels are split into `groups` contiguous groups of C/groups channels; each (example, group) is
 * normalised to zero mean and unit variance over its H·W·C/groups values (biased variance, plus `epsilon`),
 * then channel c is scaled by gamma[c] and shifted by beta[c]; with activation 'silu' the result y becomes y·σ(y).
 *
 * Preconditions: x is float32 [B, H, W, C]; C is divisible by `groups`; gamma and beta have shape [C].
 * Promises: differentiable with tf.grads w.r.t. x, gamma and beta through a hand-written backward pass
 * (dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) per group), about half the kernels of differentiating the forward
 * op by op. Uses only Reshape, Mean, Sum, Sub, Square, Add, Rsqrt, Mul and Sigmoid (all on cpu and wasm).
 * Disposes its intermediates.
 * Does not: dispose its inputs, or keep running statistics (there is no train/eval difference).
 */
export function groupNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  activation: GroupNormActivation = 'linear',
  epsilon: number = GROUP_NORM_EPSILON,
): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  if (channels % groups !== 0) {
    throw new RangeError(`groupNorm: ${channels} channels are not divisible by ${groups} groups; choose a group count dividing ${channels}.`);
  }
  if (gamma.shape[0] !== channels || beta.shape[0] !== channels) {
    throw new RangeError(
      `groupNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must both have shape [${channels}] to match the input's channels.`,
    );
  }
  ensureGradientsRegistered();
  const groupedShape = [batch, height * width, groups, channels / groups];
  const axes = [1, 3];

  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, scale, shift] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const grouped = tf.reshape(input, groupedShape);
    const centered = tf.sub(grouped, tf.mean(grouped, axes, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axes, true), epsilon));
    const normalised = tf.reshape(tf.mul(centered, rstd), input.shape);
    const affine = tf.add(tf.mul(normalised, scale), shift);
    const sigmoid = activation === 'silu' ? tf.sigmoid(affine) : undefined;
    const value = sigmoid === undefined ? affine : tf.mul(affine, sigmoid);
    save(sigmoid === undefined ? [normalised, rstd, scale] : [normalised, rstd, scale, sigmoid, value]);

    const gradFunc = (dOut: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xhat, savedRstd, savedScale, savedSigmoid, savedValue] = saved;
      // d(y·σ(y))/dy = σ + y·σ·(1 − σ) = σ + out·(1 − σ).
      const dAffine = savedSigmoid === undefined ? dOut : tf.mul(dOut, tf.add(savedSigmoid, tf.mul(savedValue, tf.sub(1, savedSigmoid))));
      const dScale = tf.sum(tf.mul(dAffine, xhat), [0, 1, 2]);
      const dShift = tf.sum(dAffine, [0, 1, 2]);
      const dxhat = tf.reshape(tf.mul(dAffine, savedScale), groupedShape);
      const xhatGrouped = tf.reshape(xhat, groupedShape);
      const meanDxhat = tf.mean(dxhat, axes, true);
      const meanDxhatXhat = tf.mean(tf.mul(dxhat, xhatGrouped), axes, true);
      const dInput = tf.mul(tf.sub(tf.sub(dxhat, meanDxhat), tf.mul(xhatGrouped, meanDxhatXhat)), savedRstd);
      return [tf.reshape(dInput, input.shape), dScale, dShift];
    };
    return { value, gradFunc };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}
