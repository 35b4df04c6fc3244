import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { Rng } from '@ddpm/diffusion-core';
import { GROUP_NORM_EPSILON, type GroupNormActivation, groupNorm, groupNormParts } from './group-norm.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Independent float64 GroupNorm: explicit loops over (example, group), two-pass mean and biased variance. */
function referenceGroupNorm(
  x: Float64Array,
  shape: [number, number, number, number],
  gamma: Float64Array,
  beta: Float64Array,
  groups: number,
  activation: GroupNormActivation = 'linear',
): Float64Array {
  const [batch, height, width, channels] = shape;
  const perGroup = channels / groups;
  const out = new Float64Array(x.length);
  const index = (b: number, i: number, j: number, c: number): number => ((b * height + i) * width + j) * channels + c;
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      const members: number[] = [];
      for (let i = 0; i < height; i++)
        for (let j = 0; j < width; j++)
          for (let c = g * perGroup; c < (g + 1) * perGroup; c++) members.push(index(b, i, j, c));
      const mean = members.reduce((s, k) => s + x[k], 0) / members.length;
      const variance = members.reduce((s, k) => s + (x[k] - mean) ** 2, 0) / members.length;
      for (const k of members) {
        const c = k % channels;
        const y = ((x[k] - mean) / Math.sqrt(variance + GROUP_NORM_EPSILON)) * gamma[c] + beta[c];
        out[k] = activation === 'silu' ? y / (1 + Math.exp(-y)) : y;
      }
    }
  }
  return out;
}

const matchesReference = test.macro({
  exec(t, shape: [number, number, number, number], groups: number, activation: GroupNormActivation = 'linear') {
    const rng = new Rng(shape.reduce((a, b) => a * 31 + b, groups));
    const size = shape.reduce((a, b) => a * b, 1);
    const channels = shape[3];
    // Offset and scale per example so the normalisation has real work to do.
    const x = rng.fillNormal(new Float64Array(size)).map((v, k) => 3 * v + 5 + Math.floor(k / (size / shape[0])));
    const gamma = rng.fillNormal(new Float64Array(channels));
    const beta = rng.fillNormal(new Float64Array(channels));
    const expected = referenceGroupNorm(x, shape, gamma, beta, groups, activation);
    const actual = tf.tidy(() =>
      groupNorm(
        tf.tensor4d(Float32Array.from(x), shape),
        tf.tensor1d(Float32Array.from(gamma)),
        tf.tensor1d(Float32Array.from(beta)),
        groups,
        activation,
      ).dataSync(),
    );
    let worst = 0;
    for (let k = 0; k < size; k++) worst = Math.max(worst, Math.abs(actual[k] - expected[k]));
    t.true(worst < 1e-4, `max |tfjs − float64 reference| = ${worst}`);
  },
  title: (_, shape: number[], groups: number, activation: GroupNormActivation = 'linear') =>
    `groupNorm (${activation}) matches a float64 reference for [${shape}] with ${groups} groups`,
});

test(matchesReference, [2, 4, 4, 8], 4);
test(matchesReference, [1, 3, 5, 6], 3);
test(matchesReference, [3, 2, 2, 4], 1);
test(matchesReference, [1, 2, 3, 4], 4);
test(matchesReference, [2, 4, 4, 8], 4, 'silu');
test(matchesReference, [1, 3, 5, 6], 3, 'silu');

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

const gradientsMatchFiniteDifferences = test.macro({
  exec(t, activation: GroupNormActivation) {
    const rng = new Rng(11);
    const shape: [number, number, number, number] = [2, 2, 3, 4];
    const size = 48;
    const x = rng.fillNormal(new Float64Array(size)).map((v) => 2 * v + 1);
    const gamma = rng.fillNormal(new Float64Array(4));
    const beta = rng.fillNormal(new Float64Array(4));
    const probe = rng.fillNormal(new Float64Array(size));
    const loss = (xs: Float64Array, gs: Float64Array, bs: Float64Array): number =>
      referenceGroupNorm(xs, shape, gs, bs, 2, activation).reduce((s, v, k) => s + v * probe[k], 0);
    const [dx, dgamma, dbeta] = tf.tidy(() => {
      const p = tf.tensor4d(Float32Array.from(probe), shape);
      const f = (xt: tf.Tensor, gt: tf.Tensor, bt: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(groupNorm(xt as tf.Tensor4D, gt as tf.Tensor1D, bt as tf.Tensor1D, 2, activation), p));
      return tf
        .grads(f)([
          tf.tensor4d(Float32Array.from(x), shape),
          tf.tensor1d(Float32Array.from(gamma)),
          tf.tensor1d(Float32Array.from(beta)),
        ])
        .map((g) => g.dataSync());
    });
    const h = 1e-6;
    const numeric = (which: 0 | 1 | 2, k: number): number => {
      const args = [x, gamma, beta].map((a) => Float64Array.from(a));
      const plus = args.map((a) => Float64Array.from(a));
      const minus = args.map((a) => Float64Array.from(a));
      plus[which][k] += h;
      minus[which][k] -= h;
      return (loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])) / (2 * h);
    };
    const check = (name: string, analytic: ArrayLike<number>, which: 0 | 1 | 2, indices: number[]): void => {
      for (const k of indices) {
        const expected = numeric(which, k);
        t.true(
          Math.abs(analytic[k] - expected) < 2e-3 * (1 + Math.abs(expected)),
          `d/d${name}[${k}]: autodiff ${analytic[k]} vs numeric ${expected}`,
        );
      }
    };
    check('x', dx, 0, [0, 5, 13, 23, 30, 47]);
    check('gamma', dgamma, 1, [0, 1, 2, 3]);
    check('beta', dbeta, 2, [0, 1, 2, 3]);
  },
  title: (_, activation: GroupNormActivation) =>
    `groupNorm (${activation}) gradients agree with float64 central finite differences`,
});

test(gradientsMatchFiniteDifferences, 'linear');
test(gradientsMatchFiniteDifferences, 'silu');

test('groupNormParts on [a, b] equals GroupNorm of the concatenation, also when a group straddles a and b (values and gradients vs float64)', (t) => {
  // 8 channels in 2 groups of 4; a has 3 channels, so group 0 is a's 3 channels plus b's first.
  const rng = new Rng(21);
  const shape: [number, number, number, number] = [2, 2, 3, 8];
  const size = 96;
  const split = 3;
  const x = rng.fillNormal(new Float64Array(size)).map((v) => 2 * v + 1);
  const gamma = rng.fillNormal(new Float64Array(8));
  const beta = rng.fillNormal(new Float64Array(8));
  const probe = rng.fillNormal(new Float64Array(size));
  const channelsOf = (values: Float64Array, from: number, to: number): Float32Array =>
    Float32Array.from(values.filter((_, k) => k % 8 >= from && k % 8 < to));
  const partShape = (channels: number): [number, number, number, number] => [2, 2, 3, channels];
  const expected = referenceGroupNorm(x, shape, gamma, beta, 2, 'silu');
  const loss = (xs: Float64Array, gs: Float64Array, bs: Float64Array): number =>
    referenceGroupNorm(xs, shape, gs, bs, 2, 'silu').reduce((sum, v, k) => sum + v * probe[k], 0);
  const [value, da, db, dgamma, dbeta] = tf.tidy(() => {
    const p = tf.tensor4d(Float32Array.from(probe), shape);
    const f = (a: tf.Tensor, b: tf.Tensor, g: tf.Tensor, bt: tf.Tensor): tf.Tensor4D =>
      tf.concat(
        groupNormParts([a as tf.Tensor4D, b as tf.Tensor4D], g as tf.Tensor1D, bt as tf.Tensor1D, 2, 'silu'),
        3,
      );
    const inputs = [
      tf.tensor4d(channelsOf(x, 0, split), partShape(split)),
      tf.tensor4d(channelsOf(x, split, 8), partShape(8 - split)),
      tf.tensor1d(Float32Array.from(gamma)),
      tf.tensor1d(Float32Array.from(beta)),
    ];
    const out = f(inputs[0], inputs[1], inputs[2], inputs[3]).dataSync();
    const grads = tf
      .grads((a, b, g, bt) => tf.sum(tf.mul(f(a, b, g, bt), p)))(inputs)
      .map((g) => g.dataSync());
    return [out, ...grads];
  });
  let worst = 0;
  for (let k = 0; k < size; k++) worst = Math.max(worst, Math.abs(value[k] - expected[k]));
  t.true(worst < 1e-4, `max |parts − float64 reference| = ${worst}`);
  const h = 1e-6;
  const numeric = (which: 0 | 1 | 2, k: number): number => {
    const plus = [x, gamma, beta].map((a) => Float64Array.from(a));
    const minus = [x, gamma, beta].map((a) => Float64Array.from(a));
    plus[which][k] += h;
    minus[which][k] -= h;
    return (loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])) / (2 * h);
  };
  const close = (name: string, analytic: number, expectedValue: number): void => {
    t.true(
      Math.abs(analytic - expectedValue) < 2e-3 * (1 + Math.abs(expectedValue)),
      `${name}: autodiff ${analytic} vs numeric ${expectedValue}`,
    );
  };
  // Position p of [2, 2, 3, 8] holds channel p % 8 of pixel floor(p / 8); parts number their elements per pixel.
  for (const k of [0, 2, 3, 7, 40, 57, 89, 95]) {
    const pixel = Math.floor(k / 8);
    const channel = k % 8;
    const analytic = channel < split ? da[pixel * split + channel] : db[pixel * (8 - split) + channel - split];
    close(`d/dx[${k}]`, analytic, numeric(0, k));
  }
  for (let c = 0; c < 8; c++) {
    close(`d/dgamma[${c}]`, dgamma[c], numeric(1, c));
    close(`d/dbeta[${c}]`, dbeta[c], numeric(2, c));
  }
});

test('groupNorm rejects channels not divisible by groups and mismatched affine parameters', (t) => {
  tf.tidy(() => {
    const x = tf.zeros<tf.Rank.R4>([1, 2, 2, 6]);
    t.throws(() => groupNorm(x, tf.ones([6]), tf.zeros([6]), 4), {
      message: /6 channels are not divisible by 4 groups/,
    });
    t.throws(() => groupNorm(x, tf.ones([4]), tf.zeros([6]), 3), { message: /must both have shape \[6\]/ });
  });
});
