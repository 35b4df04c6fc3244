import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { Rng } from '@ddpm/diffusion-core';
import { conv2d, upsampleNearest2x } from './layers.ts';
import { upsampleConv2d } from './upsample-conv.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

/**
 * Independent reference: the composition conv('same', upsample 2x) evaluated in float64 straight from the
 * definitions (output (i, j) sums kernel tap (u, v) times x at (floor((i+u-1)/2), floor((j+v-1)/2)), zero outside).
 */
function reference(
  x: Float32Array,
  [n, h, w, ci]: number[],
  kernel: Float32Array,
  co: number,
  bias: Float32Array,
): Float64Array {
  const out = new Float64Array(n * 2 * h * 2 * w * co);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < 2 * h; i++)
      for (let j = 0; j < 2 * w; j++)
        for (let o = 0; o < co; o++) {
          let sum = bias[o];
          for (let u = 0; u < 3; u++)
            for (let v = 0; v < 3; v++) {
              const r = i + u - 1;
              const c = j + v - 1;
              if (r < 0 || c < 0 || r >= 2 * h || c >= 2 * w) continue;
              for (let k = 0; k < ci; k++)
                sum += kernel[((u * 3 + v) * ci + k) * co + o] * x[((b * h + (r >> 1)) * w + (c >> 1)) * ci + k];
            }
          out[((b * 2 * h + i) * 2 * w + j) * co + o] = sum;
        }
  return out;
}

const matchesReference = test.macro({
  exec(t, shape: [number, number, number, number], co: number) {
    const rng = new Rng(shape[1] * 100 + shape[2]);
    const x = rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)));
    const kernel = rng.fillNormal(new Float32Array(9 * shape[3] * co));
    const bias = rng.fillNormal(new Float32Array(co));
    const y = tf.tidy(() =>
      upsampleConv2d(tf.tensor4d(x, shape), tf.tensor4d(kernel, [3, 3, shape[3], co]), tf.tensor1d(bias)),
    );
    t.deepEqual(y.shape, [shape[0], 2 * shape[1], 2 * shape[2], co]);
    const values = y.dataSync();
    y.dispose();
    const expected = reference(x, shape, kernel, co, bias);
    const worst = Math.max(...Array.from(expected, (e, i) => Math.abs(e - values[i])));
    t.true(worst < 1e-4, `max error ${worst}`);
  },
  title: (_, shape: number[], co: number) =>
    `upsampleConv2d equals conv('same', upsample 2x) in float64 for x [${shape}] -> ${co} channels`,
});

test(matchesReference, [2, 4, 3, 3], 2);
test(matchesReference, [1, 1, 1, 2], 3);
test(matchesReference, [2, 3, 5, 4], 4);

test('upsampleConv2d has the gradients of conv(upsample 2x) w.r.t. x, kernel and bias', (t) => {
  const rng = new Rng(77);
  const x = rng.normal<tf.Tensor4D>([2, 3, 4, 3]);
  const kernel = rng.normal<tf.Tensor4D>([3, 3, 3, 2]);
  const bias = rng.normal<tf.Tensor1D>([2]);
  const probe = rng.normal<tf.Tensor4D>([2, 6, 8, 2]);
  const loss =
    (f: (a: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor) => tf.Tensor4D) => (a: tf.Tensor, k: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor4D, k as tf.Tensor4D, b), probe));
  const phases = tf.grads(loss(upsampleConv2d))([x, kernel, bias]);
  const composed = tf.grads(loss((a, k, b) => conv2d(upsampleNearest2x(a), k, b)))([x, kernel, bias]);
  phases.forEach((g, i) => {
    t.deepEqual(g.shape, composed[i].shape);
    const worst = tf.max(tf.abs(tf.sub(g, composed[i]))).dataSync()[0];
    t.true(worst < 1e-4, `gradient ${i}: max difference ${worst}`);
  });
  tf.dispose([x, kernel, bias, probe, ...phases, ...composed]);
});
