import * as tf from '@tensorflow/tfjs-core';
import { type Rng } from '@ddpm/diffusion-core';

/**
 * Functional layer primitives of the U-Net. Each takes its weights explicitly, creates no variables, and is
 * meant to run inside the caller's tf.tidy (intermediates are not disposed here).
 */

/** SiLU / swish, x·sigmoid(x) (DDPM's `nonlinearity`). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * 2-D convolution with 'same' padding plus bias. kernel is [kh, kw, in, out]; a 1x1 kernel is DDPM's `nin`.
 * With stride 2 the output is ceil(H/2) x ceil(W/2), padded at the bottom/right as TensorFlow's 'SAME' does.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias: tf.Tensor, stride: 1 | 2 = 1): tf.Tensor4D {
  return tf.add(tf.conv2d(x, kernel as tf.Tensor4D, stride, 'same'), bias);
}

/** Fully connected layer x·W + b for x [B, in], W [in, out], b [out]. */
export function dense(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight as tf.Tensor2D), bias);
}

/**
 * Nearest-neighbour 2x upsampling: output[b, i, j, c] = x[b, floor(i/2), floor(j/2), c] (what DDPM's
 * tf.image.resize_nearest_neighbor does for an exact factor 2).
 * Built from Reshape and Concat (whose gradients are Slice and Add), not ResizeNearestNeighbor: the cpu
 * backend's ResizeNearestNeighborGrad (tfjs 4.22) offsets every example after the first by the input's batch
 * stride instead of dy's, giving wrong gradients for batch > 1.
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const columns = tf.reshape(x, [batch, height, width, 1, channels]);
  const wide = tf.reshape(tf.concat([columns, columns], 3), [batch, height, 1, 2 * width * channels]);
  return tf.reshape(tf.concat([wide, wide], 2), [batch, 2 * height, 2 * width, channels]);
}

/**
 * Inverted dropout: zeroes each element with probability `rate` and scales the rest by 1/(1 − rate),
 * as tf.nn.dropout does. The mask is drawn in JavaScript from `rng` (one 32-bit draw per element, in row-major
 * order), so the same Rng state always gives the same mask on every backend.
 * Precondition: 0 <= rate < 1. Returns x itself when rate is 0, without consuming any draws.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, rng: Rng): T {
  if (rate === 0) return x;
  const threshold = rate * 4294967296;
  const scale = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.nextUint32() < threshold ? 0 : scale;
  return tf.mul(x, tf.tensor(mask, x.shape, 'float32'));
}
