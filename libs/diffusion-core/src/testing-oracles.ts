import * as tf from '@tensorflow/tfjs-core';
import type { NoiseModel } from './loss.ts';
import type { DiffusionSchedule } from './schedule.ts';

// Test support only (not exported by index.ts): exact noise predictors for data distributions whose posterior is known.

/**
 * ᾱ_t as a float32 scalar when every sample has the same timestep (always so in the samplers; the cpu backend
 * broadcasts a scalar much faster than a [batch, 1, 1, 1] tensor), else per sample as [batch, 1, 1, 1].
 */
function alphaBarOf(schedule: DiffusionSchedule, t: tf.Tensor1D): tf.Tensor {
  const steps = t.dataSync();
  if (steps.every((step) => step === steps[0])) return tf.scalar(schedule.alphasCumprod[steps[0]]);
  return tf.tensor4d(
    Float32Array.from(steps, (step) => schedule.alphasCumprod[step]),
    [steps.length, 1, 1, 1],
  );
}

/** Data x0 = c everywhere: the noise is known exactly from x_t, ε = (x_t − √ᾱ_t·c)/√(1 − ᾱ_t). */
export function pointMassOracle(schedule: DiffusionSchedule, c: number): NoiseModel {
  return (xt, t) =>
    tf.tidy(() => {
      const ab = alphaBarOf(schedule, t);
      return tf.div(tf.sub(xt, tf.mul(tf.sqrt(ab), c)), tf.sqrt(tf.sub(1, ab)));
    });
}

/**
 * Data x0 ~ N(μ, s²) independently per element: x_t ~ N(√ᾱ μ, ᾱ s² + 1 − ᾱ), and the optimal predictor is
 * E[ε | x_t] = √(1 − ᾱ)·(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ).
 */
export function gaussianOracle(schedule: DiffusionSchedule, mu: number, s: number): NoiseModel {
  return (xt, t) =>
    tf.tidy(() => {
      const ab = alphaBarOf(schedule, t);
      const marginalVariance = tf.add(tf.mul(ab, s * s - 1), 1);
      return tf.mul(tf.sub(xt, tf.mul(tf.sqrt(ab), mu)), tf.div(tf.sqrt(tf.sub(1, ab)), marginalVariance));
    });
}

/** Mean and (population) standard deviation of the values. */
export function meanAndStd(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length) };
}
