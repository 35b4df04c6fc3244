import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@ddpm/diffusion-core';
import { GROUP_NORM_EPSILON, groupNorm } from './group-norm.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Independent float64 GroupNorm: explicit loops over (example, group), two-pass mean and biased variance. */
function referenceGroupNorm(x: Float64Array, shape: [number, number, number, number], gamma: Float64Array, beta: Float64Array, groups: number): Float64Array {
  const [batch, height, width, channels] = shape;
  const perGroup = channels / groups;
  const out = new Float64Array(x.length);
  const index = (b: number, i: number, j: number, c: number): number => ((b * height + i) * width + j) * channels + c;
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      const members: number[] = [];
      for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) for (let c = g * perGroup; c < (g + 1) * perGroup; c++) members.push(index(b, i, j, c));
      const mean = members.reduce((s, k) => s + x[k], 0) / members.length;
      const variance = members.reduce((s, k) => s + (x[k] - mean) ** 2, 0) / members.length;
      for (const k of members) {
        const c = k % channels;
        out[k] = ((x[k] - mean) / Math.sqrt(variance + GROUP_NORM_EPSILON)) * gamma[c] + beta[c];
      }
    }
  }
  return out;
}

const matchesReference = test.macro({
  exec(t, shape: [number, number, number, number], groups: number) {
    const rng = new Rng(shape.reduce((a, b) => a * 31 + b, groups));
    const size = shape.reduce((a, b) => a * b, 1);
    const channels = shape[3];
    // Offset and scale per example so the normalisation has real work to do.
    const x = rng.fillNormal(new Float64Array(size)).map((v, k) => 3 * v + 5 + Math.floor(k / (size / shape[0])));
    const gamma = rng.fillNormal(new Float64Array(channels));
    const beta = rng.fillNormal(new Float64Array(channels));
    const expected = referenceGroupNorm(x, shape, gamma, beta, groups);
    const actual = tf.tidy(() => groupNorm(tf.tensor4d(Float32Array.from(x), shape), tf.tensor1d(Float32Array.from(gamma)), tf.tensor1d(Float32Array.from(beta)), groups).dataSync());
    let worst = 0;
    for (let k = 0; k < size; k++) worst = Math.max(worst, Math.abs(actual[k] - expected[k]));
    t.true(worst < 1e-4, `max |tfjs − float64 reference| = ${worst}`);
  },
  title: (_, shape: number[], groups: number) => `groupNorm matches a float64 reference for [${shape}] with ${groups} groups`,
});

test(matchesReference, [2, 4, 4, 8], 4);
test(matchesReference, [1, 3, 5, 6], 3);
test(matchesReference, [3, 2, 2, 4], 1);
test(matchesReference, [1, 2, 3, 4], 4);

test('groupNorm output has zero mean and unit variance per group when gamma = 1 and beta = 0', (t) => {
  const stats = tf.tidy(() => {
    const x = tf.add<tf.Tensor4D>(tf.mul(new Rng(7).normal([2, 3, 3, 8]), 4), 2);
    const y = tf.reshape(groupNorm(x, tf.ones([8]), tf.zeros([8]), 2), [2, 9, 2, 4]);
    const moments = tf.moments(y, [1, 3]);
    return { mean: moments.mean.dataSync(), variance: moments.variance.dataSync() };
  });
  for (const m of stats.mean) t.true(Math.abs(m) < 1e-5, `group mean ${m}`);
  for (const v of stats.variance) t.true(Math.abs(v - 1) < 1e-4, `group variance ${v}`);
});

test('groupNorm gradients agree with central finite differences', (t) => {
  const rng = new Rng(11);
  const shape: [number, number, number, number] = [1, 2, 3, 4];
  const x = rng.fillNormal(new Float64Array(24));
  const gamma = rng.fillNormal(new Float64Array(4));
  const beta = rng.fillNormal(new Float64Array(4));
  const weights = rng.fillNormal(new Float64Array(24));
  const loss = (xs: Float64Array, gs: Float64Array): number =>
    referenceGroupNorm(xs, shape, gs, beta, 2).reduce((s, v, k) => s + v * weights[k], 0);
  const [dx, dgamma] = tf.tidy(() => {
    const w = tf.tensor4d(Float32Array.from(weights), shape);
    const f = (xt: tf.Tensor, gt: tf.Tensor): tf.Scalar => tf.sum(tf.mul(groupNorm(xt as tf.Tensor4D, gt as tf.Tensor1D, tf.tensor1d(Float32Array.from(beta)), 2), w));
    return tf.grads(f)([tf.tensor4d(Float32Array.from(x), shape), tf.tensor1d(Float32Array.from(gamma))]).map((g) => g.dataSync());
  });
  const h = 1e-6;
  for (const k of [0, 5, 13, 23]) {
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[k] += h;
    minus[k] -= h;
    const numeric = (loss(plus, gamma) - loss(minus, gamma)) / (2 * h);
    t.true(Math.abs(dx[k] - numeric) < 2e-3 * (1 + Math.abs(numeric)), `d/dx[${k}]: autodiff ${dx[k]} vs numeric ${numeric}`);
  }
  for (let c = 0; c < 4; c++) {
    const plus = Float64Array.from(gamma);
    const minus = Float64Array.from(gamma);
    plus[c] += h;
    minus[c] -= h;
    const numeric = (loss(x, plus) - loss(x, minus)) / (2 * h);
    t.true(Math.abs(dgamma[c] - numeric) < 2e-3 * (1 + Math.abs(numeric)), `d/dgamma[${c}]: autodiff ${dgamma[c]} vs numeric ${numeric}`);
  }
});

test('groupNorm rejects channels not divisible by groups and mismatched affine parameters', (t) => {
  tf.tidy(() => {
    const x = tf.zeros<tf.Rank.R4>([1, 2, 2, 6]);
    t.throws(() => groupNorm(x, tf.ones([6]), tf.zeros([6]), 4), { message: /6 channels are not divisible by 4 groups/ });
    t.throws(() => groupNorm(x, tf.ones([4]), tf.zeros([6]), 3), { message: /must both have shape \[6\]/ });
  });
});
