import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';

/**
 * Functional layer primitives of the U-Net. Each takes its weights explicitly, creates no variables, and is
 * meant to run inside the caller's tf.tidy (intermediates are not disposed here).
 */

/** SiLU / swish, x·sigmoid(x) (DDPM's `nonlinearity`). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * 2-D convolution with 'same' padding plus an optional bias. kernel is [kh, kw, in, out]; a 1x1 kernel is DDPM's `nin`.
 * With stride 2 the output is ceil(H/2) x ceil(W/2), padded at the bottom/right as TensorFlow's 'SAME' does.
 * One FusedConv2D kernel (bias added in the convolution); its gradient runs Conv2DBackpropInput,
 * Conv2DBackpropFilter and a Sum for the bias, without the copies a separate Add would save for the tape.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias?: tf.Tensor, stride: 1 | 2 = 1): tf.Tensor4D {
  return bias === undefined
    ? tf.conv2d(x, kernel as tf.Tensor4D, stride, 'same')
    : tf.fused.conv2d({ x, filter: kernel as tf.Tensor4D, strides: stride, pad: 'same', bias });
}

/** Fully connected layer x·W + b for x [B, in], W [in, out], b [out] (one _FusedMatMul kernel). */
export function dense(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: weight as tf.Tensor2D, bias }) as tf.Tensor2D;
}

/**
 * Nearest-neighbour 2x upsampling: output[b, i, j, c] = x[b, floor(i/2), floor(j/2), c] (what DDPM's
 * tf.image.resize_nearest_neighbor does for an exact factor 2).
 * Forward: Reshape and Concat. Backward (custom): the sum over each 2x2 block, as two Reshape + Sum.
 * Not ResizeNearestNeighbor: the cpu backend's ResizeNearestNeighborGrad (tfjs 4.22) offsets every example after
 * the first by the input's batch stride instead of dy's (wrong gradients for batch > 1), and on wasm both the
 * kernel and its gradient are several times slower than this; Concat's own gradient would need rank-5 slices,
 * which wasm runs element by element in JavaScript.
 */
export const upsampleNearest2x: (x: tf.Tensor4D) => tf.Tensor4D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const [batch, height, width, channels] = input.shape;
    const columns = tf.reshape(input, [batch, height, width, 1, channels]);
    const wide = tf.reshape(tf.concat([columns, columns], 3), [batch, height, 1, 2 * width * channels]);
    const value = tf.reshape(tf.concat([wide, wide], 2), [batch, 2 * height, 2 * width, channels]);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const rows = tf.sum(tf.reshape(dy, [batch * height, 2, 2 * width * channels]), 1);
      return tf.reshape(tf.sum(tf.reshape(rows, [batch * height * width, 2, channels]), 1), input.shape);
    };
    return { value, gradFunc };
  },
) as (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * Inverted dropout: zeroes each element with probability `rate` and scales the rest by 1/(1 − rate),
 * as tf.nn.dropout does. Sample b's mask (x[b], row-major, one 32-bit draw per element) comes from an Rng seeded by
 * its own key and the dropout `site` (which call in the network this is), drawn in JavaScript.
 *
 * Promises: a sample's mask depends only on (keys[b], site): not on the backend, nor on the other samples of the
 * batch, so a batch split across workers drops exactly what one process would.
 * Preconditions: 0 <= rate < 1; keys holds one 32-bit key per sample (x.shape[0]). Returns x itself when rate is 0.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, keys: ArrayLike<number>, site: number): T {
  if (rate === 0) return x;
  const batch = x.shape[0];
  if (keys.length !== batch)
    throw new RangeError(`dropout: ${keys.length} keys for a batch of ${batch}; pass one key per sample.`);
  const threshold = rate * 4294967296;
  const scale = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  const perSample = x.size / batch;
  for (let b = 0; b < batch; b++) {
    const rng = new Rng(dropoutSeed(keys[b], site));
    for (let i = b * perSample; i < (b + 1) * perSample; i++) mask[i] = rng.nextUint32() < threshold ? 0 : scale;
  }
  return tf.mul(x, tf.tensor(mask, x.shape, 'float32'));
}

/** Mixes a sample key with a dropout site (murmur3 finaliser), so every site of every sample gets its own stream. */
function dropoutSeed(key: number, site: number): number {
  let h = Math.imul((key >>> 0) ^ Math.imul(site + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
