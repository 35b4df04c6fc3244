import * as tf from '@tensorflow/tfjs-core';

/** The GroupNorm epsilon of tf.contrib.layers.group_norm, which DDPM uses. */
export const GROUP_NORM_EPSILON = 1e-6;

/** What follows the normalisation: nothing, or SiLU (DDPM's `nonlinearity(normalize(h))`). */
export type GroupNormActivation = 'linear' | 'silu';

type Args = Array<tf.Tensor | tf.GradSaveFunc>;

/**
 * Per-example, per-channel sums of x and of x² over height and width: [B, 2, C]. Custom gradient:
 * dx = d₀ + 2·x·d₁ (broadcast over height and width), two full-size kernels.
 */
const momentSums = tf.customGrad((...args: Args) => {
  const x = args[0] as tf.Tensor4D;
  const save = args[1] as tf.GradSaveFunc;
  const [batch, , , channels] = x.shape;
  save([x]);
  const value = tf.stack([tf.sum(x, [1, 2]), tf.sum(tf.square(x), [1, 2])], 1);
  const gradFunc = (dy: tf.Tensor, [saved]: tf.Tensor[]): tf.Tensor => {
    const dSum = tf.reshape(tf.slice(dy, [0, 0, 0], [batch, 1, channels]), [batch, 1, 1, channels]);
    const dSquares = tf.reshape(tf.slice(dy, [0, 1, 0], [batch, 1, channels]), [batch, 1, 1, channels]);
    return tf.add(tf.mul(saved, tf.mul(dSquares, 2)), dSum);
  };
  return { value, gradFunc };
}) as (x: tf.Tensor4D) => tf.Tensor3D;

/**
 * y = x·scale + shift per (example, channel), then SiLU if asked; scale and shift are [B, C]. Custom gradient:
 * with dA the gradient before SiLU, dx = dA·scale, dscale = Σ_hw dA·x, dshift = Σ_hw dA.
 */
function affine(
  activation: GroupNormActivation,
): (x: tf.Tensor4D, scale: tf.Tensor2D, shift: tf.Tensor2D) => tf.Tensor4D {
  return tf.customGrad((...args: Args) => {
    const [x, scale, shift] = args as [tf.Tensor4D, tf.Tensor2D, tf.Tensor2D];
    const save = args[3] as tf.GradSaveFunc;
    const [batch, , , channels] = x.shape;
    const scale4 = tf.reshape(scale, [batch, 1, 1, channels]);
    const y = tf.add(tf.mul(x, scale4), tf.reshape(shift, [batch, 1, 1, channels]));
    const sigmoid = activation === 'silu' ? tf.sigmoid(y) : undefined;
    const value = sigmoid === undefined ? y : tf.mul(y, sigmoid);
    save(sigmoid === undefined ? [x, scale4] : [x, scale4, sigmoid, value]);
    const gradFunc = (dOut: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedX, savedScale, savedSigmoid, savedValue] = saved;
      // d(y·σ(y))/dy = σ + y·σ·(1 − σ) = σ + out·(1 − σ).
      const dA =
        savedSigmoid === undefined
          ? dOut
          : tf.mul(dOut, tf.add(savedSigmoid, tf.mul(savedValue, tf.sub(1, savedSigmoid))));
      return [tf.mul(dA, savedScale), tf.sum(tf.mul(dA, savedX), [1, 2]), tf.sum(dA, [1, 2])];
    };
    return { value, gradFunc };
  }) as (x: tf.Tensor4D, scale: tf.Tensor2D, shift: tf.Tensor2D) => tf.Tensor4D;
}

const AFFINE = { linear: affine('linear'), silu: affine('silu') };

/**
 * Group normalisation (Wu & He 2018) of the channel concatenation of NHWC `parts`, with a per-channel affine
 * transform and an optional SiLU, returned part by part, without materialising the concatenation (the U-Net's up
 * path normalises [h, skip] this way). Groups may straddle the boundary between parts.
 *
 * The C channels (all parts, in order) are split into `groups` contiguous groups of C/groups channels; each
 * (example, group) is normalised to zero mean and unit variance over its H·W·C/groups values (biased variance,
 * plus `epsilon`), then channel c is scaled by gamma[c] and shifted by beta[c]; with activation 'silu' the result
 * y becomes y·σ(y).
 *
 * How: per-channel sums of x and x² (one pass), group statistics on those small [B, C] tensors (variance as
 * E[x²] − E[x]², adequate while |mean| / std stays below ~10³ in float32), then one fused x·scale + shift per part.
 * The full-size work has custom gradients; the small statistics are differentiated by tfjs.
 * Preconditions: parts are float32 [B, H, W, Ci] with equal B, H, W; ΣCi is divisible by `groups`; gamma and beta
 * have shape [ΣCi]. tfjs's gradients are registered (importing @ddpm/backend or @tensorflow/tfjs does) before
 * tf.grads is used through it.
 * Promises: differentiable with tf.grads w.r.t. every part, gamma and beta. Not tidied (call inside a tidy).
 * Does not: dispose its inputs, or keep running statistics (there is no train/eval difference).
 */
export function groupNormParts(
  parts: readonly tf.Tensor4D[],
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  activation: GroupNormActivation = 'linear',
  epsilon: number = GROUP_NORM_EPSILON,
): tf.Tensor4D[] {
  if (parts.length === 0)
    throw new RangeError('groupNormParts: no parts given; pass at least one [B, H, W, C] tensor.');
  const [batch, height, width] = parts[0].shape;
  for (const part of parts) {
    if (part.rank !== 4 || part.shape[0] !== batch || part.shape[1] !== height || part.shape[2] !== width) {
      throw new RangeError(
        `groupNorm: parts [${parts.map((p) => `[${p.shape}]`).join(', ')}] must be rank 4 with equal batch, height and width.`,
      );
    }
  }
  const channels = parts.reduce((total, part) => total + part.shape[3], 0);
  if (channels % groups !== 0) {
    throw new RangeError(
      `groupNorm: ${channels} channels are not divisible by ${groups} groups; choose a group count dividing ${channels}.`,
    );
  }
  if (gamma.shape[0] !== channels || beta.shape[0] !== channels) {
    throw new RangeError(
      `groupNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must both have shape [${channels}] to match the input's channels.`,
    );
  }
  const groupSize = channels / groups;
  const count = height * width * groupSize;
  const sums = parts.map((part) => momentSums(part));
  const all = sums.length === 1 ? sums[0] : tf.concat(sums, 2); // [B, 2, C]
  const perGroup = tf.div(tf.sum(tf.reshape(all, [batch, 2, groups, groupSize]), 3, true), count); // [B, 2, G, 1]
  const mean = tf.slice(perGroup, [0, 0, 0, 0], [batch, 1, groups, 1]);
  const meanSquare = tf.slice(perGroup, [0, 1, 0, 0], [batch, 1, groups, 1]);
  const variance = tf.relu(tf.sub(meanSquare, tf.square(mean)));
  const rstd = tf.rsqrt(tf.add(variance, epsilon));
  const toChannels = (t: tf.Tensor): tf.Tensor2D =>
    tf.reshape(tf.mul(t, tf.ones([1, 1, 1, groupSize])), [batch, channels]);
  const scale = tf.mul<tf.Tensor2D>(toChannels(rstd), gamma);
  const shift = tf.sub<tf.Tensor2D>(beta, tf.mul(toChannels(mean), scale));
  let offset = 0;
  return parts.map((part) => {
    const size = part.shape[3];
    const sliceOf = (t: tf.Tensor2D): tf.Tensor2D => (parts.length === 1 ? t : tf.slice(t, [0, offset], [batch, size]));
    const out = AFFINE[activation](part, sliceOf(scale), sliceOf(shift));
    offset += size;
    return out;
  });
}

/**
 * Group normalisation of one NHWC tensor with a per-channel affine transform and an optional SiLU:
 * {@link groupNormParts} with a single part (same definition, preconditions and promises).
 */
export function groupNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  activation: GroupNormActivation = 'linear',
  epsilon: number = GROUP_NORM_EPSILON,
): tf.Tensor4D {
  return groupNormParts([x], gamma, beta, groups, activation, epsilon)[0];
}
