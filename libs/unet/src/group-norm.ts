import * as tf from '@tensorflow/tfjs-core';
import { ensureGradientsRegistered } from './gradients.ts';

/** The GroupNorm epsilon of tf.contrib.layers.group_norm, which DDPM uses. */
export const GROUP_NORM_EPSILON = 1e-6;

/**
 * Group normalisation (Wu & He 2018) of an NHWC tensor, with a per-channel affine transform.
 *
 * The C channels are split into `groups` contiguous groups of C/groups channels; each (example, group) is
 * normalised to zero mean and unit variance over its H·W·C/groups values (biased variance, plus `epsilon`),
 * then channel c is scaled by gamma[c] and shifted by beta[c].
 *
 * Preconditions: x is float32 [B, H, W, C]; C is divisible by `groups`; gamma and beta have shape [C].
 * Promises: differentiable with tf.grads w.r.t. x, gamma and beta; uses only Reshape, Mean, Sub, Square, Add,
 * Rsqrt and Mul (all present on the cpu and wasm backends). Disposes its intermediates.
 * Does not: dispose its inputs, or keep running statistics (there is no train/eval difference).
 */
export function groupNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
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
  return tf.tidy(() => {
    const grouped = tf.reshape(x, [batch, height * width, groups, channels / groups]);
    const axes = [1, 3];
    const centered = tf.sub(grouped, tf.mean(grouped, axes, true));
    const variance = tf.mean(tf.square(centered), axes, true);
    const normalised = tf.reshape(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), [batch, height, width, channels]);
    return tf.add(tf.mul(normalised, gamma), beta);
  });
}
