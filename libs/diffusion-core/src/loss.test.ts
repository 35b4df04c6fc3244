import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { diffusionLoss, sampleTrainingInputs, type NoiseModel, type TrainingInputs } from './loss.ts';
import { Rng } from './random.ts';
import { makeSchedule } from './schedule.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
const sampleShape = [4, 4, 1] as const;
const batch = 64;

function makeX0(seed: number): { x0: tf.Tensor4D; values: Float32Array } {
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: batch * 16 }, () => 2 * rng.uniform() - 1);
  return { x0: tf.tensor4d(values, [batch, ...sampleShape]), values };
}

test('sampleTrainingInputs is reproducible, in range and resumable from a saved Rng state', (t) => {
  const a = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(11));
  const b = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(11));
  t.is(a.t.length, batch);
  t.is(a.noise.length, batch * 16);
  t.deepEqual(a, b);
  t.notDeepEqual(a.noise, sampleTrainingInputs(schedule, batch, sampleShape, new Rng(12)).noise);
  t.true(a.t.every((step) => Number.isInteger(step) && step >= 0 && step < 1000));

  const rng = new Rng(5);
  sampleTrainingInputs(schedule, batch, sampleShape, rng);
  const saved = rng.state();
  const next = sampleTrainingInputs(schedule, batch, sampleShape, rng);
  t.deepEqual(sampleTrainingInputs(schedule, batch, sampleShape, Rng.fromState(saved)), next);
});

test('sampleTrainingInputs draws t uniformly over [0, T) and standard normal noise', (t) => {
  const small = makeSchedule({ kind: 'cosine', timesteps: 10 });
  const draws = 20_000;
  const { t: steps, noise } = sampleTrainingInputs(small, draws, [1, 1, 3], new Rng(21));
  const counts = new Array<number>(10).fill(0);
  for (const step of steps) counts[step]++;
  const expected = draws / 10;
  for (const c of counts)
    t.true(Math.abs(c - expected) < 5 * Math.sqrt(expected * 0.9), `count ${c}, expected ${expected}`);
  let sum = 0;
  let squares = 0;
  for (const v of noise) {
    sum += v;
    squares += v * v;
  }
  t.true(Math.abs(sum / noise.length) < 5 / Math.sqrt(noise.length));
  t.true(Math.abs(squares / noise.length - 1) < 5 * Math.sqrt(2 / noise.length));
});

test('sampleTrainingInputs refuses bad batch sizes and shapes', (t) => {
  const rng = new Rng(1);
  t.throws(() => sampleTrainingInputs(schedule, 0, sampleShape, rng), { message: /positive integer batchSize/ });
  t.throws(() => sampleTrainingInputs(schedule, 2, [28, 0, 1], rng), { message: /sample shape of positive integers/ });
});

test('a model that returns the true noise has zero loss; one that rebuilds it from x_t and x0 has ~zero loss', (t) => {
  const { x0, values } = makeX0(1);
  const inputs = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(2));
  const trueNoise: NoiseModel = () => tf.tensor4d(inputs.noise, x0.shape);
  const before = tf.memory().numTensors;
  const exact = diffusionLoss(schedule, trueNoise, x0, inputs);
  t.deepEqual(exact.shape, []);
  t.is(exact.dataSync()[0], 0);
  exact.dispose();
  t.is(tf.memory().numTensors, before, 'diffusionLoss must release its intermediates');

  // ε = (x_t − √ᾱ_t x0)/√(1 − ᾱ_t), coefficients computed per sample in float64 here.
  const rebuild: NoiseModel = (xt) => {
    const ab = Float32Array.from(inputs.t, (step) => schedule.alphasCumprod[step]);
    const a = tf.tensor4d(ab.map(Math.sqrt), [batch, 1, 1, 1]);
    const b = tf.tensor4d(
      ab.map((x) => Math.sqrt(1 - x)),
      [batch, 1, 1, 1],
    );
    return tf.div(tf.sub(xt, tf.mul(a, tf.tensor4d(values, x0.shape))), b);
  };
  const nearZero = diffusionLoss(schedule, rebuild, x0, inputs);
  t.true(nearZero.dataSync()[0] < 1e-6, `loss ${nearZero.dataSync()[0]}: qSample and the loss disagree on x_t`);
  tf.dispose([nearZero, x0]);
});

test('a zero model has loss mean(ε²), which is ≈ 1', (t) => {
  const { x0 } = makeX0(3);
  const inputs = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(4));
  const loss = diffusionLoss(schedule, (xt) => tf.zerosLike(xt), x0, inputs);
  let squares = 0;
  for (const v of inputs.noise) squares += v * v;
  const want = squares / inputs.noise.length;
  t.true(Math.abs(loss.dataSync()[0] - want) < 1e-6 * want);
  t.true(Math.abs(want - 1) < 5 * Math.sqrt(2 / inputs.noise.length));
  tf.dispose([loss, x0]);
});

test('the gradient of the loss through a tiny model ε = w·x_t + b (− c) matches the float64 derivative', (t) => {
  const { x0, values } = makeX0(5);
  const inputs: TrainingInputs = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(6));
  const w = tf.variable(tf.scalar(0.3));
  const b = tf.variable(tf.scalar(-0.2));
  const c = tf.variable(tf.scalar(0.05));
  const model: NoiseModel = (xt) => tf.sub(tf.add(tf.mul(xt, w), b), c);
  const { value, grads } = tf.variableGrads(() => diffusionLoss(schedule, model, x0, inputs), [w, b, c]);

  // L = mean (ε − w x_t − b + c)²;  dL/dw = mean(−2 x_t r), dL/db = mean(−2 r), dL/dc = mean(2 r).
  const per = values.length / batch;
  let loss = 0;
  let dw = 0;
  let db = 0;
  for (let i = 0; i < values.length; i++) {
    const ab = schedule.alphasCumprod[inputs.t[Math.floor(i / per)]];
    const xt = Math.sqrt(ab) * values[i] + Math.sqrt(1 - ab) * inputs.noise[i];
    const r = inputs.noise[i] - (0.3 * xt - 0.2 - 0.05);
    loss += r * r;
    dw += -2 * xt * r;
    db += -2 * r;
  }
  const n = values.length;
  const close = (got: number, want: number): boolean => Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want));
  t.true(close(value.dataSync()[0], loss / n), `loss ${value.dataSync()[0]} vs ${loss / n}`);
  t.true(close(grads[w.name].dataSync()[0], dw / n), `dL/dw ${grads[w.name].dataSync()[0]} vs ${dw / n}`);
  t.true(close(grads[b.name].dataSync()[0], db / n), `dL/db ${grads[b.name].dataSync()[0]} vs ${db / n}`);
  t.true(close(grads[c.name].dataSync()[0], -db / n), `dL/dc ${grads[c.name].dataSync()[0]} vs ${-db / n}`);
  tf.dispose([value, x0, w, b, c, ...Object.values(grads)]);
});

test('diffusionLoss explains inputs drawn for another batch or schedule and a model of the wrong shape', (t) => {
  const { x0 } = makeX0(7);
  const inputs = sampleTrainingInputs(schedule, batch, sampleShape, new Rng(8));
  const zero: NoiseModel = (xt) => tf.zerosLike(xt);
  const before = tf.memory().numTensors;
  t.throws(() => diffusionLoss(schedule, zero, x0, { t: inputs.t.subarray(1), noise: inputs.noise }), {
    message: /sampleTrainingInputs/,
  });
  t.throws(() => diffusionLoss(schedule, zero, x0, { t: inputs.t, noise: inputs.noise.subarray(1) }), {
    message: /sampleTrainingInputs/,
  });
  const shortSchedule = makeSchedule({ kind: 'linear', timesteps: 10 });
  const farStep = Int32Array.from(inputs.t, () => 500);
  t.throws(() => diffusionLoss(shortSchedule, zero, x0, { t: farStep, noise: inputs.noise }), {
    message: /timestep 500, outside \[0, 10\)/,
  });
  t.throws(() => diffusionLoss(schedule, (xt) => tf.zeros([xt.shape[0], 4, 4, 3]), x0, inputs), {
    message: /the model output has shape/,
  });
  t.is(tf.memory().numTensors, before, 'a refused call must not leak');
  x0.dispose();
});
