import * as tf from '@tensorflow/tfjs-core';
import { conv2d, upsampleNearest2x } from './layers.ts';

/**
 * conv2d(upsampleNearest2x(x), kernel, bias) with 'same' padding, computed on the low-resolution x.
 *
 * For a 3x3 kernel each of the four output phases (row parity a, column parity b) of the upsampled convolution is
 * a 2x2 convolution of x: along one axis, output 2i reads x[i-1] with tap w0 and x[i] with w1 + w2, and output
 * 2i+1 reads x[i] with w0 + w1 and x[i+1] with w2 (the zero padding of the upsampled map is the zero padding of x).
 * So the four phases take 16 taps per 2x2 output block instead of 36, in the forward pass and in both gradients
 * (tf.grads differentiates the phase convolutions and the small tap sums). The phases are interleaved by
 * {@link interleavePhases}.
 *
 * Promises: equal to the composition up to float32 rounding (the tap sums change the summation order);
 * differentiable w.r.t. x, kernel and bias. Other kernel sizes fall back to the composition.
 * Preconditions: x [B, H, W, Ci], kernel [kh, kw, Ci, Co], bias [Co]. Not tidied (call inside a tidy).
 */
export function upsampleConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  if (kh !== 3 || kw !== 3) return conv2d(upsampleNearest2x(x), kernel, bias);
  const rows = [0, 1].map((a) => phaseTaps(kernel, 0, a)); // [2, 3, Ci, Co] each
  const phase = (a: number, b: number): tf.Tensor4D => {
    const filter = phaseTaps(rows[a], 1, b); // [2, 2, Ci, Co]
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [1 - a, a],
      [1 - b, b],
      [0, 0],
    ];
    return tf.fused.conv2d({ x, filter, strides: 1, pad, bias });
  };
  return interleavePhases(phase(0, 0), phase(0, 1), phase(1, 0), phase(1, 1));
}

/**
 * out[b, 2i + a, 2j + c, :] = phase (a, c)[b, i, j, :], with N = B*H: per row parity a, the two column phases
 * stacked on a leading axis ([2, N*W, C]) and transposed to [N*W, 2, C] are that output row; the two rows stacked
 * ([2, N, 2*W*C]) and transposed to [N, 2, 2*W*C] are the output. The gradient runs the same steps backwards
 * (transpose, then split along the leading axis). Only rank-3 transposes and leading-axis concats/splits, which
 * are block copies on every backend; Concat's own gradient would slice inner axes, which wasm does row by row in
 * JavaScript, and a StridedSlice or a rank-5 transpose is element by element there.
 */
const interleavePhases = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const phases = args.slice(0, 4) as tf.Tensor4D[];
  const [batch, height, width, channels] = phases[0].shape;
  const n = batch * height;
  const stacked = (parts: tf.Tensor[], shape: number[]): tf.Tensor =>
    tf.concat(
      parts.map((part) => tf.reshape(part, [1, ...shape])),
      0,
    );
  const row = (left: tf.Tensor, right: tf.Tensor): tf.Tensor =>
    tf.reshape(tf.transpose(stacked([left, right], [n * width, channels]), [1, 0, 2]), [n, 2 * width * channels]);
  const rows = stacked([row(phases[0], phases[1]), row(phases[2], phases[3])], [n, 2 * width * channels]);
  const value = tf.reshape(tf.transpose(rows, [1, 0, 2]), [batch, 2 * height, 2 * width, channels]);
  const unstacked = (t: tf.Tensor, rest: number[]): tf.Tensor[] =>
    tf.split(tf.transpose(tf.reshape(t, [rest[0], 2, rest[1]]), [1, 0, 2]), 2, 0);
  const gradFunc = (dy: tf.Tensor): tf.Tensor[] =>
    unstacked(dy, [n, 2 * width * channels]).flatMap((dRow) =>
      unstacked(dRow, [n * width, channels]).map((d) => tf.reshape(d, [batch, height, width, channels])),
    );
  return { value, gradFunc };
}) as (p00: tf.Tensor4D, p01: tf.Tensor4D, p10: tf.Tensor4D, p11: tf.Tensor4D) => tf.Tensor4D;

/** The two taps of output phase `phase` along `axis` (0 rows, 1 columns) of a kernel with 3 taps on that axis. */
function phaseTaps(kernel: tf.Tensor4D, axis: 0 | 1, phase: number): tf.Tensor4D {
  const [t0, t1, t2] = tf.split(kernel, 3, axis) as tf.Tensor4D[];
  return tf.concat<tf.Tensor4D>(
    phase === 0 ? [t0, tf.add<tf.Tensor4D>(t1, t2)] : [tf.add<tf.Tensor4D>(t0, t1), t2],
    axis,
  );
}
