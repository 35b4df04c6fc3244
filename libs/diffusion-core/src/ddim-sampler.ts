import * as tf from '@tensorflow/tfjs-core';
import type { NoiseModel } from './loss.ts';
import type { Rng } from './random.ts';
import { initialSample, predictNoise, runSteps, type SampleShape, type SamplerCallback } from './sampler-common.ts';
import type { DiffusionSchedule } from './schedule.ts';

/** Options of {@link ddimSample}. */
export interface DdimSampleOptions {
  /** Source of x_T (unless `initialNoise` is given) and, when eta > 0, of the noise added at each step but the last. */
  readonly rng: Rng;
  /** How many model calls S, 1 <= S <= T; the timesteps visited are {@link ddimTimesteps}(T, S). */
  readonly steps: number;
  /** 0 gives the deterministic DDIM; 1 gives DDPM-like ancestral noise. Must lie in [0, 1]. */
  readonly eta: number;
  /** Clip the predicted x̂_0 to [−1, 1] (and recompute ε from it) before each update. Default false. */
  readonly clipDenoised?: boolean;
  /** Start from this x_T instead of drawing it (must have the requested shape; not disposed). */
  readonly initialNoise?: tf.Tensor4D;
  /** Called after each of the S steps. */
  readonly onStep?: SamplerCallback;
}

/**
 * The increasing sub-sequence τ of 0-based timesteps DDIM visits: τ_i = round(i·(T−1)/(S−1)) for i = 0 … S−1, i.e.
 * S points spaced evenly over [0, T−1] that always include both ends (T−1, where x_T ~ N(0, I) holds best, and 0).
 * For S = 1 it is [T−1]. The values are distinct because the spacing (T−1)/(S−1) is at least 1 when S <= T.
 * Preconditions: T >= 1 and S an integer in [1, T].
 */
export function ddimTimesteps(timesteps: number, steps: number): Int32Array {
  if (!Number.isInteger(steps) || steps < 1 || steps > timesteps) {
    throw new RangeError(
      `DDIM needs an integer number of steps in [1, ${timesteps}] (the schedule's T), got ${steps}.`,
    );
  }
  if (steps === 1) return Int32Array.of(timesteps - 1);
  return Int32Array.from({ length: steps }, (_, i) => Math.round((i * (timesteps - 1)) / (steps - 1)));
}

/**
 * DDIM sampling (Song et al. 2021, eq. 12) over the sub-sequence τ = ddimTimesteps(T, S), from τ_{S−1} down to τ_0:
 * x̂_0 = (x_t − √(1 − ᾱ_t)·ε)/√ᾱ_t, then
 * x_prev = √ᾱ_prev·x̂_0 + √(1 − ᾱ_prev − σ²)·ε + σ·z, with σ = eta·√((1 − ᾱ_prev)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev),
 * where ᾱ_prev is ᾱ at the previous timestep of τ, and 1 after τ_0, so the last step returns x̂_0 exactly.
 *
 * Promises: a float32 tensor of `shape` that the caller owns; memory flat across steps. With eta = 0 the result is a
 * deterministic function of x_T: the Rng is used only to draw x_T (not at all when `initialNoise` is given). With
 * eta > 0, one z per step is drawn, except at the last step (where σ = 0).
 * Preconditions: `model` follows the {@link NoiseModel} contract; S in [1, T]; eta in [0, 1].
 * Does not: dispose `initialNoise`; make more than S model calls.
 */
export function ddimSample(
  schedule: DiffusionSchedule,
  model: NoiseModel,
  shape: SampleShape,
  options: DdimSampleOptions,
): tf.Tensor4D {
  const { rng, steps, eta, clipDenoised = false, initialNoise, onStep } = options;
  if (!(eta >= 0 && eta <= 1)) {
    throw new RangeError(
      `ddimSample needs eta in [0, 1], got ${eta}; 0 is deterministic DDIM, 1 matches DDPM's posterior noise.`,
    );
  }
  const sequence = ddimTimesteps(schedule.timesteps, steps);
  const ac = schedule.alphasCumprod;
  const timesteps = Array.from(sequence).reverse();
  const start = initialSample('ddimSample', shape, rng, initialNoise);
  return runSteps(
    start,
    timesteps,
    (x, k) => {
      const t = timesteps[k];
      const alphaBar = ac[t];
      const alphaBarPrev = k + 1 < timesteps.length ? ac[timesteps[k + 1]] : 1;
      let eps = predictNoise('ddimSample', model, x, t);
      let x0 = tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - alphaBar))), Math.sqrt(alphaBar));
      if (clipDenoised) {
        x0 = tf.clipByValue(x0, -1, 1);
        eps = tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(alphaBar))), Math.sqrt(1 - alphaBar));
      }
      const sigma = eta * Math.sqrt((1 - alphaBarPrev) / (1 - alphaBar)) * Math.sqrt(1 - alphaBar / alphaBarPrev);
      let next: tf.Tensor4D = tf.add(
        tf.mul(x0, Math.sqrt(alphaBarPrev)),
        tf.mul(eps, Math.sqrt(Math.max(0, 1 - alphaBarPrev - sigma * sigma))),
      );
      if (sigma > 0) next = tf.add(next, tf.mul(rng.normal<tf.Tensor4D>([...shape]), sigma));
      return tf.cast(next, 'float32');
    },
    onStep,
  );
}
