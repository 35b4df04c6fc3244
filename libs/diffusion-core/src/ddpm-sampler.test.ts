import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ddpmSample, type DdpmSampleOptions } from './ddpm-sampler.ts';
import type { NoiseModel } from './loss.ts';
import { Rng } from './random.ts';
import type { SampleShape } from './sampler-common.ts';
import { makeSchedule, type ScheduleKind } from './schedule.ts';
import { gaussianOracle, meanAndStd, pointMassOracle } from './testing-oracles.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const shape: SampleShape = [2, 4, 4, 1];
const size = 32;
type Variance = DdpmSampleOptions['variance'];

/** The Rng state after drawing `draws` normal tensors of `shape` from seed. */
function stateAfterNormals(seed: number, draws: number): Rng {
  const rng = new Rng(seed);
  for (let i = 0; i < draws; i++) rng.fillNormal(new Float32Array(size));
  return rng;
}

/** ᾱ built here from β (float64), so the checks below do not reuse the schedule's derived tables. */
function alphaBarsFromBetas(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) out[i] = product *= 1 - betas[i];
  return out;
}

const returnsThePointMass = test.macro({
  exec(t, kind: ScheduleKind, variance: Variance, clipDenoised: boolean) {
    const schedule = makeSchedule({ kind, timesteps: 100 });
    const c = -0.35;
    const before = tf.memory().numTensors;
    const x = ddpmSample(schedule, pointMassOracle(schedule, c), shape, { rng: new Rng(3), variance, clipDenoised });
    t.is(x.dtype, 'float32');
    t.deepEqual(x.shape, [...shape]);
    const worst = Math.max(...Array.from(x.dataSync(), (v) => Math.abs(v - c)));
    t.true(worst < 1e-4, `largest deviation from c: ${worst}`);
    x.dispose();
    t.is(tf.memory().numTensors, before, 'the sampler must release everything but its result');
  },
  title: (_, kind: ScheduleKind, variance: Variance, clip: boolean) =>
    `DDPM with an exact model on x0 = c returns c (${kind}, ${variance}, clip ${clip})`,
});
for (const kind of ['linear', 'cosine'] as const) {
  for (const variance of ['beta', 'posterior'] as const)
    for (const clip of [false, true]) test(returnsThePointMass, kind, variance, clip);
}

const stepsAreBayesMeanPlusNoise = test.macro({
  exec(t, variance: Variance, clipDenoised: boolean) {
    const T = 1000;
    const schedule = makeSchedule({ kind: 'linear', timesteps: T });
    const c = 0.3;
    // Replay the Rng: x_T first, then z for the steps at timesteps T−1 … 1.
    const replay = new Rng(17);
    const xT = replay.fillNormal(new Float32Array(size));
    const zs = Array.from({ length: T - 1 }, () => replay.fillNormal(new Float32Array(size)));
    const trajectory: Float32Array[] = [];
    const x = ddpmSample(schedule, pointMassOracle(schedule, c), shape, {
      rng: new Rng(17),
      variance,
      clipDenoised,
      onStep: ({ index, steps, timestep, x: current }) => {
        if (steps !== T || timestep !== T - index) t.fail(`step ${index} of ${steps} reported timestep ${timestep}`);
        trajectory.push(current.dataSync().slice() as Float32Array);
      },
    });
    x.dispose();
    t.is(trajectory.length, T);
    const alphaBars = alphaBarsFromBetas(schedule.betas);
    // Where β̃_t ≈ β_t (large t) and where they differ by far (t = 1, β̃_1 ≈ β_0·β_1/(β_0 + β_1)).
    for (const step of [T - 1, 500, 1]) {
      const index = T - step; // 1-based step number
      const input = index === 1 ? xT : trajectory[index - 2];
      const output = trajectory[index - 1];
      const z = zs[index - 1];
      // q(x_{t−1} | x_t, x0 = c) from Bayes' rule; the exact model makes the sampler's mean equal to it.
      const beta = schedule.betas[step];
      const abPrev = alphaBars[step - 1];
      const precision = (1 - beta) / beta + 1 / (1 - abPrev);
      const sigma = Math.sqrt(variance === 'beta' ? beta : 1 / precision);
      for (let i = 0; i < size; i++) {
        const mean = ((Math.sqrt(1 - beta) * input[i]) / beta + (Math.sqrt(abPrev) * c) / (1 - abPrev)) / precision;
        const want = mean + sigma * z[i];
        if (Math.abs(output[i] - want) > 1e-5 * (1 + Math.abs(want)))
          return t.fail(`t=${step}, element ${i}: ${output[i]}, want ${want}`);
      }
    }
    return t.pass();
  },
  title: (_, variance: Variance, clip: boolean) =>
    `each DDPM step is the Bayes posterior mean plus σ·z, σ² = ${variance === 'beta' ? 'β' : 'β̃'} (clip ${clip})`,
});
for (const variance of ['beta', 'posterior'] as const)
  for (const clip of [false, true]) test(stepsAreBayesMeanPlusNoise, variance, clip);

test('an exception thrown by onStep reaches the caller and leaks no tensor', (t) => {
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 20 });
  const stop = new Error('stop after the third step');
  const before = tf.memory().numTensors;
  const run = (): tf.Tensor4D =>
    ddpmSample(schedule, pointMassOracle(schedule, 0), shape, {
      rng: new Rng(1),
      variance: 'beta',
      onStep: ({ index }) => {
        if (index === 3) throw stop;
      },
    });
  t.throws(run, { is: stop });
  t.is(tf.memory().numTensors, before);
});

test('the last DDPM step returns the predicted x0 without noise, and the Rng draws x_T plus one z per step but the last', (t) => {
  const T = 100;
  const schedule = makeSchedule({ kind: 'cosine', timesteps: T });
  const [mu, s] = [0.2, 0.5];
  const model = gaussianOracle(schedule, mu, s);
  const rng = new Rng(23);
  let beforeLast: Float32Array | undefined;
  const x = ddpmSample(schedule, model, shape, {
    rng,
    variance: 'beta',
    onStep: ({ index, x: current }) => {
      if (index === T - 1) beforeLast = current.dataSync().slice() as Float32Array;
    },
  });
  const got = x.dataSync();
  x.dispose();
  t.deepEqual(rng.state(), stateAfterNormals(23, T).state());
  if (beforeLast === undefined) return t.fail('onStep was not called at step T−1');
  // At t = 0 the posterior is the point mass at x0, so the mean is x̂0 = (x_1 − √(1 − ᾱ_0)·ε̂)/√ᾱ_0.
  const ab = 1 - schedule.betas[0];
  for (let i = 0; i < size; i++) {
    const x1 = beforeLast[i];
    const epsHat = (Math.sqrt(1 - ab) * (x1 - Math.sqrt(ab) * mu)) / (ab * s * s + 1 - ab);
    const want = (x1 - Math.sqrt(1 - ab) * epsHat) / Math.sqrt(ab);
    if (Math.abs(got[i] - want) > 1e-5 * (1 + Math.abs(want))) return t.fail(`element ${i}: ${got[i]}, want ${want}`);
  }
  return t.pass();
});

test('DDPM is deterministic for a seed, differs across seeds, and initialNoise replaces the first draw', (t) => {
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 50 });
  const model = gaussianOracle(schedule, 0, 0.7);
  const run = (options: DdpmSampleOptions): Float32Array => {
    const x = ddpmSample(schedule, model, shape, options);
    const values = x.dataSync().slice() as Float32Array;
    x.dispose();
    return values;
  };
  const a = run({ rng: new Rng(5), variance: 'posterior' });
  t.deepEqual(run({ rng: new Rng(5), variance: 'posterior' }), a);
  t.notDeepEqual(run({ rng: new Rng(6), variance: 'posterior' }), a);
  const rest = new Rng(5);
  const xT = rest.normal<tf.Tensor4D>([...shape]);
  t.deepEqual(run({ rng: rest, variance: 'posterior', initialNoise: xT }), a);
  t.false(xT.isDisposed, 'initialNoise stays the caller’s');
  xT.dispose();
});

test('with clipping inactive (x̂0 = c in range) the clipped and the direct mean give the same trajectory', (t) => {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 100 });
  const model = pointMassOracle(schedule, 0.6);
  const midway = (clipDenoised: boolean): Float32Array => {
    let captured: Float32Array = new Float32Array(0);
    const x = ddpmSample(schedule, model, shape, {
      rng: new Rng(8),
      variance: 'beta',
      clipDenoised,
      onStep: ({ index, x: current }) => {
        if (index === 50) captured = current.dataSync().slice() as Float32Array;
      },
    });
    x.dispose();
    return captured;
  };
  const direct = midway(false);
  const clipped = midway(true);
  t.is(direct.length, size);
  t.true(
    direct.every((v, i) => Math.abs(v - clipped[i]) < 1e-5),
    'the two mean formulas must agree',
  );
});

test('DDPM keeps the number of live tensors flat across steps', (t) => {
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 60 });
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const x = ddpmSample(schedule, gaussianOracle(schedule, 0, 1), shape, {
    rng: new Rng(1),
    variance: 'beta',
    onStep: () => counts.push(tf.memory().numTensors),
  });
  t.is(counts.length, 60);
  t.true(
    counts.every((n) => n === before + 1),
    `live tensors per step: ${[...new Set(counts)].join(', ')}`,
  );
  x.dispose();
});

const reproducesGaussianData = test.macro({
  exec(t, variance: Variance) {
    // x0 ~ N(μ, s²) per element and the exact ε-predictor: the samples must have mean μ and std s. The float64
    // propagation of this linear-Gaussian chain predicts std 0.5004 (β) and 0.4980 (β̃) for T = 1000 cosine.
    const schedule = makeSchedule({ kind: 'cosine', timesteps: 1000 });
    const [mu, s] = [0.2, 0.5];
    const x = ddpmSample(schedule, gaussianOracle(schedule, mu, s), [2, 64, 64, 1], { rng: new Rng(99), variance });
    const { mean, std } = meanAndStd(x.dataSync());
    x.dispose();
    const n = 2 * 64 * 64;
    t.true(Math.abs(mean - mu) < 5 * (s / Math.sqrt(n)), `mean ${mean}, want ${mu}`);
    t.true(Math.abs(std / s - 1) < 5 / Math.sqrt(2 * n) + 0.006, `std ${std}, want ${s}`);
  },
  title: (_, variance: Variance) => `DDPM with the exact model reproduces Gaussian data N(0.2, 0.5²) (${variance})`,
});
test(reproducesGaussianData, 'beta');
test(reproducesGaussianData, 'posterior');

test('ddpmSample explains bad options, shapes and model outputs, and leaks nothing when it refuses', (t) => {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 10 });
  const model = pointMassOracle(schedule, 0);
  const rng = new Rng(1);
  const before = tf.memory().numTensors;
  t.throws(() => ddpmSample(schedule, model, shape, { rng, variance: 'large' as Variance }), {
    message: /'beta'.*'posterior'/,
  });
  t.throws(() => ddpmSample(schedule, model, [2, 4, 4, 0], { rng, variance: 'beta' }), {
    message: /positive integers/,
  });
  const wrongNoise = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
  t.throws(() => ddpmSample(schedule, model, shape, { rng, variance: 'beta', initialNoise: wrongNoise }), {
    message: /initialNoise has shape \[1, 4, 4, 1\]/,
  });
  wrongNoise.dispose();
  const wrongModel: NoiseModel = (xt) => tf.zeros([xt.shape[0], 2, 2, 1]);
  t.throws(() => ddpmSample(schedule, wrongModel, shape, { rng, variance: 'beta' }), {
    message: /the model output has shape \[2, 2, 2, 1\]/,
  });
  t.is(tf.memory().numTensors, before);
});
