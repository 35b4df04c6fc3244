import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ddimSample, ddimTimesteps, type DdimSampleOptions } from './ddim-sampler.ts';
import { ddpmSample } from './ddpm-sampler.ts';
import { Rng } from './random.ts';
import type { SampleShape } from './sampler-common.ts';
import { makeSchedule, type ScheduleKind } from './schedule.ts';
import { gaussianOracle, meanAndStd, pointMassOracle } from './testing-oracles.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const shape: SampleShape = [2, 4, 4, 1];
const size = 32;

function values(x: tf.Tensor4D): Float32Array {
  const out = x.dataSync().slice() as Float32Array;
  x.dispose();
  return out;
}

test('ddimTimesteps spaces S timesteps evenly over [0, T−1], both ends included, strictly increasing', (t) => {
  const sequence = Array.from(ddimTimesteps(1000, 50));
  t.is(sequence.length, 50);
  t.is(sequence[0], 0);
  t.is(sequence[49], 999);
  t.true(sequence.every((v, i) => i === 0 || v > sequence[i - 1]));
  const gaps = sequence.slice(1).map((v, i) => v - sequence[i]);
  t.true(
    gaps.every((g) => g === 20 || g === 21),
    `gaps ${[...new Set(gaps)].join(', ')}`,
  );
  t.deepEqual(Array.from(ddimTimesteps(10, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.deepEqual(Array.from(ddimTimesteps(10, 9)).length, new Set(ddimTimesteps(10, 9)).size);
  t.deepEqual(Array.from(ddimTimesteps(10, 1)), [9]);
  t.deepEqual(Array.from(ddimTimesteps(10, 2)), [0, 9]);
  for (const bad of [0, 11, 2.5])
    t.throws(() => ddimTimesteps(10, bad), { instanceOf: RangeError, message: /steps in \[1, 10\]/ });
});

const returnsThePointMass = test.macro({
  exec(t, kind: ScheduleKind, steps: number, clipDenoised: boolean) {
    const schedule = makeSchedule({ kind, timesteps: 200 });
    const c = 0.45;
    const visited: number[] = [];
    const before = tf.memory().numTensors;
    const x = ddimSample(schedule, pointMassOracle(schedule, c), shape, {
      rng: new Rng(2),
      steps,
      eta: 0,
      clipDenoised,
      onStep: ({ timestep, steps: total }) => {
        t.is(total, steps);
        visited.push(timestep);
      },
    });
    t.is(x.dtype, 'float32');
    const worst = Math.max(...Array.from(values(x), (v) => Math.abs(v - c)));
    t.true(worst < 1e-4, `largest deviation from c: ${worst}`);
    t.deepEqual(visited, Array.from(ddimTimesteps(200, steps)).reverse());
    t.is(tf.memory().numTensors, before);
  },
  title: (_, kind: ScheduleKind, steps: number, clip: boolean) =>
    `DDIM (η = 0) with an exact model on x0 = c returns c (${kind}, S=${steps}, clip ${clip})`,
});
for (const kind of ['linear', 'cosine'] as const) {
  for (const steps of [10, 200]) for (const clip of [false, true]) test(returnsThePointMass, kind, steps, clip);
}

test('DDIM with η = 0 is a deterministic function of x_T: the Rng only draws x_T, and not even that with initialNoise', (t) => {
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 100 });
  const model = gaussianOracle(schedule, 0.1, 0.6);
  const xT = new Rng(40).normal<tf.Tensor4D>([...shape]);
  const rngA = new Rng(1);
  const rngB = new Rng(2);
  const stateB = rngB.state();
  const a = values(ddimSample(schedule, model, shape, { rng: rngA, steps: 20, eta: 0, initialNoise: xT }));
  const b = values(ddimSample(schedule, model, shape, { rng: rngB, steps: 20, eta: 0, initialNoise: xT }));
  t.deepEqual(a, b);
  t.deepEqual(rngB.state(), stateB, 'η = 0 with initialNoise must not touch the Rng');
  t.false(xT.isDisposed);
  xT.dispose();
  const rng = new Rng(40);
  t.deepEqual(
    values(ddimSample(schedule, model, shape, { rng, steps: 20, eta: 0 })),
    a,
    'drawing x_T from the same seed gives the same result',
  );
  const afterOneDraw = new Rng(40);
  afterOneDraw.fillNormal(new Float32Array(size));
  t.deepEqual(rng.state(), afterOneDraw.state());
});

test('DDIM with η > 0 draws one z per step except the last, and is deterministic for a seed', (t) => {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 100 });
  const model = gaussianOracle(schedule, 0, 0.5);
  const options = (seed: number): DdimSampleOptions => ({ rng: new Rng(seed), steps: 25, eta: 0.5 });
  const first = options(9);
  const a = values(ddimSample(schedule, model, shape, first));
  t.deepEqual(values(ddimSample(schedule, model, shape, options(9))), a);
  t.notDeepEqual(values(ddimSample(schedule, model, shape, options(10))), a);
  const replay = new Rng(9);
  for (let i = 0; i < 25; i++) replay.fillNormal(new Float32Array(size)); // x_T and 24 z
  t.deepEqual(first.rng.state(), replay.state());
});

const etaOneIsDdpm = test.macro({
  exec(t, clipDenoised: boolean) {
    // With S = T and η = 1, σ² = β̃_t and √(1 − ᾱ_{t−1} − σ²) = coef2·√(1 − ᾱ_t): DDIM is DDPM with σ² = β̃, and both
    // draw x_T and then one z per step but the last, so the same seed gives the same samples.
    const T = 200;
    const schedule = makeSchedule({ kind: 'cosine', timesteps: T });
    const model = gaussianOracle(schedule, 0.3, 0.8);
    const ddim = values(ddimSample(schedule, model, shape, { rng: new Rng(77), steps: T, eta: 1, clipDenoised }));
    const ddpm = values(ddpmSample(schedule, model, shape, { rng: new Rng(77), variance: 'posterior', clipDenoised }));
    const worst = Math.max(...Array.from(ddim, (v, i) => Math.abs(v - ddpm[i])));
    t.true(worst < 1e-4, `largest difference ${worst}`);
  },
  title: (_, clip: boolean) => `DDIM with η = 1 and S = T reproduces DDPM with σ² = β̃ (clip ${clip})`,
});
test(etaOneIsDdpm, false);
test(etaOneIsDdpm, true);

test('DDIM keeps the number of live tensors flat across steps', (t) => {
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 100 });
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const x = ddimSample(schedule, gaussianOracle(schedule, 0, 1), shape, {
    rng: new Rng(1),
    steps: 30,
    eta: 0.3,
    onStep: () => counts.push(tf.memory().numTensors),
  });
  t.is(counts.length, 30);
  t.true(
    counts.every((n) => n === before + 1),
    `live tensors per step: ${[...new Set(counts)].join(', ')}`,
  );
  x.dispose();
});

test('DDIM (η = 0, S = 100 of T = 1000) with the exact model reproduces Gaussian data N(0.2, 0.5²)', (t) => {
  // The float64 propagation of this linear map predicts std 0.4923 (DDIM shrinks slightly with few steps).
  const schedule = makeSchedule({ kind: 'cosine', timesteps: 1000 });
  const [mu, s] = [0.2, 0.5];
  const { mean, std } = meanAndStd(
    values(
      ddimSample(schedule, gaussianOracle(schedule, mu, s), [2, 64, 64, 1], { rng: new Rng(5), steps: 100, eta: 0 }),
    ),
  );
  const n = 2 * 64 * 64;
  t.true(Math.abs(mean - mu) < 5 * (s / Math.sqrt(n)), `mean ${mean}, want ${mu}`);
  t.true(Math.abs(std / s - 1) < 5 / Math.sqrt(2 * n) + 0.016, `std ${std}, want ${s}`);
});

test('ddimSample explains bad η and step counts', (t) => {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 10 });
  const model = pointMassOracle(schedule, 0);
  const rng = new Rng(1);
  const before = tf.memory().numTensors;
  for (const eta of [-0.1, 1.5, Number.NaN])
    t.throws(() => ddimSample(schedule, model, shape, { rng, steps: 5, eta }), { message: /eta in \[0, 1\]/ });
  t.throws(() => ddimSample(schedule, model, shape, { rng, steps: 11, eta: 0 }), { message: /steps in \[1, 10\]/ });
  t.is(tf.memory().numTensors, before);
});
