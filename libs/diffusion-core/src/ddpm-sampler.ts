import * as tf from '@tensorflow/tfjs-core';
import type { NoiseModel } from './loss.ts';
import type { Rng } from './random.ts';
import { initialSample, predictNoise, runSteps, type SampleShape, type SamplerCallback } from './sampler-common.ts';
import type { DiffusionSchedule } from './schedule.ts';

/** Options of {@link ddpmSample}. */
export interface DdpmSampleOptions {
  /** Source of x_T (unless `initialNoise` is given) and of the noise z added at every step but the last. */
  readonly rng: Rng;
  /** σ_t² = β_t ('beta', DDPM's "fixedlarge") or β̃_t ('posterior', DDPM's "fixedsmall"). */
  readonly variance: 'beta' | 'posterior';
  /**
   * true: predict x̂_0 = √(1/ᾱ_t)·x_t − √(1/ᾱ_t − 1)·ε, clip it to [−1, 1], and take the posterior mean
   * μ̃_t(x̂_0, x_t) (what DDPM's released code does; use it for data scaled to [−1, 1]).
   * false (default): Algorithm 2's mean 1/√α_t·(x_t − β_t/√(1 − ᾱ_t)·ε). Without clipping the two are equal.
   */
  readonly clipDenoised?: boolean;
  /** Start from this x_T instead of drawing it (must have the requested shape; not disposed). */
  readonly initialNoise?: tf.Tensor4D;
  /** Called after each of the T steps. */
  readonly onStep?: SamplerCallback;
}

/**
 * Ancestral sampling, DDPM Algorithm 2 (Ho et al. 2020): x_T ~ N(0, I); for t = T−1 … 0 (0-based),
 * x_{t−1} = μ_θ(x_t, t) + σ_t·z with z ~ N(0, I), except the last step (t = 0), which returns the mean without noise.
 *
 * Promises: a float32 tensor of `shape` that the caller owns. The number of live tensors stays flat across steps (each
 * step runs in tf.tidy and the previous sample is disposed). Given the same Rng state (and model) the result is the
 * same: the Rng is used in a fixed order, x_T first, then one z per step for t = T−1 … 1 (the last step draws nothing).
 * Preconditions: `model` follows the {@link NoiseModel} contract; shape holds positive integers.
 * Does not: make a model call more than once per step (T calls in all), skip timesteps (use ddimSample for that), or
 * dispose `initialNoise`.
 */
export function ddpmSample(
  schedule: DiffusionSchedule,
  model: NoiseModel,
  shape: SampleShape,
  options: DdpmSampleOptions,
): tf.Tensor4D {
  const { rng, variance, clipDenoised = false, initialNoise, onStep } = options;
  if (variance !== 'beta' && variance !== 'posterior') {
    throw new RangeError(
      `ddpmSample got variance ${JSON.stringify(variance)}; use 'beta' (σ² = β_t) or 'posterior' (σ² = β̃_t).`,
    );
  }
  const s = schedule;
  const timesteps = Array.from({ length: s.timesteps }, (_, k) => s.timesteps - 1 - k);
  const start = initialSample('ddpmSample', shape, rng, initialNoise);
  return runSteps(
    start,
    timesteps,
    (x, k) => {
      const t = timesteps[k];
      const eps = predictNoise('ddpmSample', model, x, t);
      let mean: tf.Tensor4D;
      if (clipDenoised) {
        const x0 = tf.clipByValue(
          tf.sub(tf.mul(x, s.sqrtRecipAlphasCumprod[t]), tf.mul(eps, s.sqrtRecipm1AlphasCumprod[t])),
          -1,
          1,
        );
        mean = tf.add(tf.mul(x0, s.posteriorMeanCoef1[t]), tf.mul(x, s.posteriorMeanCoef2[t]));
      } else {
        mean = tf.mul(tf.sub(x, tf.mul(eps, s.betas[t] / s.sqrtOneMinusAlphasCumprod[t])), 1 / Math.sqrt(s.alphas[t]));
      }
      if (t === 0) return tf.cast(mean, 'float32');
      const sigma = Math.sqrt(variance === 'beta' ? s.betas[t] : s.posteriorVariance[t]);
      return tf.cast(tf.add<tf.Tensor4D>(mean, tf.mul(rng.normal<tf.Tensor4D>([...shape]), sigma)), 'float32');
    },
    onStep,
  );
}
