import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { coefficientAt, qPosterior, qSample } from './forward.ts';
import { Rng } from './random.ts';
import { makeSchedule, type ScheduleKind } from './schedule.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const T = 1000;
const schedules = {
  linear: makeSchedule({ kind: 'linear', timesteps: T }),
  cosine: makeSchedule({ kind: 'cosine', timesteps: T }),
};
const probeSteps = [0, 1, 10, 250, 500, 998, 999];

const posteriorIsBayes = test.macro({
  exec(t, kind: ScheduleKind) {
    const s = schedules[kind];
    const x0 = 0.6;
    const xt = -0.4;
    const n = probeSteps.length;
    const before = tf.memory().numTensors;
    const steps = tf.tensor1d(probeSteps, 'int32');
    const x0s = tf.fill([n, 1, 1, 1], x0) as tf.Tensor4D;
    const xts = tf.fill([n, 1, 1, 1], xt) as tf.Tensor4D;
    const posterior = qPosterior(s, x0s, xts, steps);
    t.deepEqual(posterior.mean.shape, [n, 1, 1, 1]);
    t.deepEqual(posterior.variance.shape, [n, 1, 1, 1]);
    const mean = posterior.mean.dataSync();
    const variance = posterior.variance.dataSync();
    const logVariance = posterior.logVariance.dataSync();
    probeSteps.forEach((step, i) => {
      // Only β is taken from the schedule; ᾱ_{t−1} is rebuilt here from β.
      let abPrev = 1;
      for (let k = 0; k < step; k++) abPrev *= 1 - s.betas[k];
      const beta = s.betas[step];
      const alpha = 1 - beta;
      // q(x_{t−1}|x_t, x0) ∝ N(x_t; √α_t x_{t−1}, β_t) · N(x_{t−1}; √ᾱ_{t−1} x0, 1 − ᾱ_{t−1}): multiply the Gaussians.
      let wantMean: number;
      let wantVariance: number;
      if (step === 0) {
        wantMean = x0; // q(x_{−1}|x0) is the point mass at x0
        wantVariance = 0;
      } else {
        const precision = alpha / beta + 1 / (1 - abPrev);
        wantVariance = 1 / precision;
        wantMean = wantVariance * ((Math.sqrt(alpha) * xt) / beta + (Math.sqrt(abPrev) * x0) / (1 - abPrev));
      }
      const tableMean = s.posteriorMeanCoef1[step] * x0 + s.posteriorMeanCoef2[step] * xt;
      t.true(
        Math.abs(tableMean - wantMean) <= 1e-11 * Math.max(1, Math.abs(wantMean)),
        `t=${step}: float64 tables give ${tableMean}, Bayes ${wantMean}`,
      );
      t.true(
        Math.abs(s.posteriorVariance[step] - wantVariance) <= 1e-11 * wantVariance,
        `t=${step}: β̃ ${s.posteriorVariance[step]}, Bayes ${wantVariance}`,
      );
      t.true(
        Math.abs(mean[i] - wantMean) <= 1e-6 + 1e-6 * Math.abs(wantMean),
        `t=${step}: float32 mean ${mean[i]}, Bayes ${wantMean}`,
      );
      t.true(Math.abs(variance[i] - wantVariance) <= 1e-6 * wantVariance, `t=${step}: float32 variance ${variance[i]}`);
      const wantLog = Math.log(step === 0 ? s.posteriorVariance[1] : wantVariance);
      t.true(
        Math.abs(logVariance[i] - wantLog) <= 1e-5 * Math.abs(wantLog),
        `t=${step}: log variance ${logVariance[i]}, want ${wantLog}`,
      );
    });
    tf.dispose([steps, x0s, xts, posterior.mean, posterior.variance, posterior.logVariance]);
    t.is(tf.memory().numTensors, before, 'qPosterior must not leak intermediates');
  },
  title: (_, kind: ScheduleKind) => `qPosterior agrees with Bayes' rule in float64 (${kind})`,
});
test(posteriorIsBayes, 'linear');
test(posteriorIsBayes, 'cosine');

const monteCarloMoments = test.macro({
  exec(t, kind: ScheduleKind, step: number) {
    const s = schedules[kind];
    const n = 20_000;
    const x0Value = 0.7;
    const rng = new Rng(1000 + step);
    const x0 = tf.fill([n, 1, 1, 1], x0Value) as tf.Tensor4D;
    const noise = rng.normal<tf.Tensor4D>([n, 1, 1, 1]);
    const steps = tf.fill([n], step, 'int32') as tf.Tensor1D;
    const xt = qSample(s, x0, steps, noise);
    const values = xt.dataSync();
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    let squares = 0;
    for (const v of values) squares += (v - mean) ** 2;
    const variance = squares / n;
    // Independent ᾱ: exp of the summed log(1 − β).
    let logAlphaBar = 0;
    for (let k = 0; k <= step; k++) logAlphaBar += Math.log1p(-s.betas[k]);
    const alphaBar = Math.exp(logAlphaBar);
    const wantMean = Math.sqrt(alphaBar) * x0Value;
    const wantVariance = 1 - alphaBar;
    t.true(Math.abs(mean - wantMean) < 5 * Math.sqrt(wantVariance / n) + 1e-6, `mean ${mean}, want ${wantMean}`);
    t.true(
      Math.abs(variance - wantVariance) < 5 * wantVariance * Math.sqrt(2 / n) + 1e-9,
      `variance ${variance}, want ${wantVariance}`,
    );
    tf.dispose([x0, noise, steps, xt]);
  },
  title: (_, kind: ScheduleKind, step: number) => `qSample has mean √ᾱ·x0 and variance 1 − ᾱ (${kind}, t=${step})`,
});
for (const kind of ['linear', 'cosine'] as const)
  for (const step of [0, 100, 500, 999]) test(monteCarloMoments, kind, step);

test('qSample mixes per-sample timesteps correctly and is differentiable in x0 (d mean / d x0 = √ᾱ_t / batch)', (t) => {
  const s = schedules.linear;
  const steps = [3, 999, 0, 512];
  const x0Data = [0.1, -0.9, 0.5, 1];
  const noiseData = [1.5, -0.2, 0.3, -2];
  const x0 = tf.tensor4d(x0Data, [4, 1, 1, 1]);
  const noise = tf.tensor4d(noiseData, [4, 1, 1, 1]);
  const tt = tf.tensor1d(steps, 'int32');
  const xt = qSample(s, x0, tt, noise).dataSync();
  const gradient = tf
    .grad((x: tf.Tensor) => tf.mean(qSample(s, x as tf.Tensor4D, tt, noise)))(x0)
    .dataSync();
  steps.forEach((step, i) => {
    const ab = s.alphasCumprod[step];
    const want = Math.sqrt(ab) * x0Data[i] + Math.sqrt(1 - ab) * noiseData[i];
    t.true(Math.abs(xt[i] - want) < 1e-6, `sample ${i}: ${xt[i]} vs ${want}`);
    t.true(Math.abs(gradient[i] - Math.sqrt(ab) / 4) < 1e-6, `gradient ${i}: ${gradient[i]} vs ${Math.sqrt(ab) / 4}`);
  });
  tf.dispose([x0, noise, tt]);
});

test('coefficientAt gathers one float32 value per sample as [batch, 1, 1, 1]', (t) => {
  const steps = tf.tensor1d([2, 0, 2], 'int32');
  const c = coefficientAt(Float64Array.of(0.5, 1.5, 2.5), steps);
  t.deepEqual(c.shape, [3, 1, 1, 1]);
  t.deepEqual(Array.from(c.dataSync()), [2.5, 0.5, 2.5]);
  tf.dispose([steps, c]);
});

test('qSample and qPosterior explain wrong shapes and dtypes, and leak nothing when they refuse', (t) => {
  const s = schedules.cosine;
  const x0 = tf.zeros([2, 3, 3, 1]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const floatSteps = tf.tensor1d([1, 2]);
  const shortSteps = tf.tensor1d([1], 'int32');
  const goodSteps = tf.tensor1d([1, 2], 'int32');
  const wrongNoise = tf.zeros([2, 3, 3, 2]) as tf.Tensor4D;
  const created = tf.memory().numTensors;
  t.throws(() => qSample(s, x0, floatSteps, x0), { message: /int32 timesteps/ });
  t.throws(() => qSample(s, x0, shortSteps, x0), { message: /one timestep per sample: t must have shape \[2\]/ });
  t.throws(() => qSample(s, x0, goodSteps, wrongNoise), {
    message: /noise has shape \[2, 3, 3, 2\] but must match \[2, 3, 3, 1\]/,
  });
  t.throws(() => qPosterior(s, x0, wrongNoise, goodSteps), { message: /xt has shape/ });
  t.throws(() => qSample(s, tf.zeros([2, 9]) as unknown as tf.Tensor4D, goodSteps, x0), { message: /rank 4/ });
  t.is(tf.memory().numTensors, created + 1, 'only the tensor made for the rank test may remain');
  t.true(created > before);
});
