import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { Rng } from '@ddpm/diffusion-core';
import { dropout, silu, upsampleNearest2x } from './layers.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const upsamplesLikeNearest = test.macro({
  exec(t, height: number, width: number) {
    const channels = 3;
    const x = new Rng(height * 10 + width).fillNormal(new Float32Array(2 * height * width * channels));
    const y = tf.tidy(() => upsampleNearest2x(tf.tensor4d(x, [2, height, width, channels])));
    t.deepEqual(y.shape, [2, 2 * height, 2 * width, channels]);
    const values = y.dataSync();
    y.dispose();
    let mismatches = 0;
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 2 * height; i++)
        for (let j = 0; j < 2 * width; j++)
          for (let c = 0; c < channels; c++) {
            const expected = x[((b * height + Math.floor(i / 2)) * width + Math.floor(j / 2)) * channels + c];
            if (values[((b * 2 * height + i) * 2 * width + j) * channels + c] !== expected) mismatches++;
          }
    t.is(mismatches, 0);
  },
  title: (_, height: number, width: number) =>
    `upsampleNearest2x copies pixel (i/2, j/2) for a ${height}x${width} input`,
});

test(upsamplesLikeNearest, 7, 7);
test(upsamplesLikeNearest, 4, 3);
test(upsamplesLikeNearest, 1, 1);

test('upsampleNearest2x gradient sums each 2x2 block of the upstream gradient, per example', (t) => {
  const probe = new Rng(21).fillNormal(new Float32Array(2 * 4 * 6 * 3));
  const grad = tf.tidy(() => {
    const p = tf.tensor4d(probe, [2, 4, 6, 3]);
    return tf
      .grad((x: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(x as tf.Tensor4D), p)))(tf.zeros([2, 2, 3, 3]))
      .dataSync();
  });
  let worst = 0;
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let c = 0; c < 3; c++) {
          let expected = 0;
          for (const di of [0, 1])
            for (const dj of [0, 1]) expected += probe[((b * 4 + 2 * i + di) * 6 + 2 * j + dj) * 3 + c];
          worst = Math.max(worst, Math.abs(grad[((b * 2 + i) * 3 + j) * 3 + c] - expected));
        }
  t.true(worst < 1e-5, `max error ${worst}`);
});

test('silu(x) = x / (1 + exp(-x))', (t) => {
  const xs = [-6, -1.5, 0, 0.3, 2, 8];
  const ys = tf.tidy(() => silu(tf.tensor1d(xs)).dataSync());
  xs.forEach((x, i) => t.true(Math.abs(ys[i] - x / (1 + Math.exp(-x))) < 1e-6, `silu(${x}) = ${ys[i]}`));
});

test('dropout keeps about 1 - rate of the elements, scales them by 1/(1 - rate), and is reproducible', (t) => {
  const rate = 0.25;
  const x = tf.ones([4, 5000]);
  const keys = [9, 10, 11, 12];
  const first = tf.tidy(() => dropout(x, rate, keys, 0).dataSync());
  const again = tf.tidy(() => dropout(x, rate, keys, 0).dataSync());
  const other = tf.tidy(() => dropout(x, rate, keys, 1).dataSync());
  const kept = first.filter((v) => v !== 0);
  t.true(kept.every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6));
  // Binomial(20000, 0.75): sd ≈ 61, so ±400 is a > 6-sigma band.
  t.true(Math.abs(kept.length - 15000) < 400, `kept ${kept.length} of 20000`);
  t.true(first.every((v, i) => v === again[i]));
  t.false(
    first.every((v, i) => v === other[i]),
    'another site draws another mask',
  );
  x.dispose();
});

test("a sample's dropout mask depends on its key alone, not on the batch it sits in", (t) => {
  const x = tf.ones([3, 4, 4, 8]);
  const whole = tf.tidy(() => dropout(x, 0.5, [101, 202, 303], 2).arraySync()) as number[][][][];
  const middle = tf.tidy(() => dropout(tf.slice(x, [1], [1]), 0.5, [202], 2).arraySync()) as number[][][][];
  t.deepEqual(whole[1], middle[0]);
  t.notDeepEqual(whole[0], whole[1], 'different keys draw different masks');
  t.throws(() => dropout(x, 0.5, [1, 2], 0), { message: /2 keys for a batch of 3/ });
  x.dispose();
});

test('dropout at rate 0 returns its input', (t) => {
  const x = tf.ones([2, 10]);
  t.is(dropout(x, 0, [4, 5], 0), x);
  x.dispose();
});
