import * as tf from '@tensorflow/tfjs-core';
import type { NoiseModel } from './loss.ts';
import type { Rng } from './random.ts';
import { checkSameShape } from './tensor-checks.ts';

// Pieces shared by the DDPM and DDIM samplers.

/** What a sampler reports after each of its steps. */
export interface SamplerStep {
  /** How many steps are done, 1..steps. */
  readonly index: number;
  /** How many steps this run takes in all. */
  readonly steps: number;
  /** The 0-based timestep t whose model call this step made (x_t was denoised towards x_{t−1}, or x_0 at the end). */
  readonly timestep: number;
  /**
   * The sample after this step. Borrowed: valid only during the callback and disposed by the sampler afterwards;
   * clone it (tf.clone) to keep it, and never dispose it.
   */
  readonly x: tf.Tensor4D;
}

/** Called after every sampler step, e.g. to drive a progress bar or to record the trajectory. */
export type SamplerCallback = (step: SamplerStep) => void;

/** The sample shape [n, h, w, c]. */
export type SampleShape = readonly [number, number, number, number];

/**
 * The starting sample x_T: a float32 copy of `initialNoise` if given (checked against `shape`, not consumed), else
 * N(0, I) drawn from `rng`. The caller owns the result.
 */
export function initialSample(caller: string, shape: SampleShape, rng: Rng, initialNoise?: tf.Tensor4D): tf.Tensor4D {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(
      `${caller} needs a shape [n, height, width, channels] of positive integers, got [${shape.join(', ')}].`,
    );
  }
  if (initialNoise === undefined) return rng.normal<tf.Tensor4D>([...shape]);
  if (!tf.util.arraysEqual(initialNoise.shape, [...shape])) {
    throw new Error(
      `${caller}: initialNoise has shape [${initialNoise.shape.join(', ')}] but the requested shape is [${shape.join(', ')}]; make them agree.`,
    );
  }
  return tf.tidy(() => tf.cast(initialNoise, 'float32'));
}

/** Calls the model on x at one timestep for the whole batch and checks that the prediction has the shape of x. */
export function predictNoise(caller: string, model: NoiseModel, x: tf.Tensor4D, timestep: number): tf.Tensor4D {
  const t = tf.fill([x.shape[0]], timestep, 'int32') as tf.Tensor1D;
  const eps = model(x, t);
  checkSameShape(caller, 'the model output', eps, x);
  return eps;
}

/**
 * Runs `steps` sampler steps from `start`, replacing the sample after each one and disposing the previous sample,
 * so memory stays flat. `step(x, k)` must return a new tensor and may not dispose x; it runs inside tf.tidy.
 * On an exception (from a step or the callback) the current sample is disposed before rethrowing.
 */
export function runSteps(
  start: tf.Tensor4D,
  timesteps: readonly number[],
  step: (x: tf.Tensor4D, k: number) => tf.Tensor4D,
  onStep?: SamplerCallback,
): tf.Tensor4D {
  let x = start;
  try {
    for (let k = 0; k < timesteps.length; k++) {
      const next = tf.tidy(() => step(x, k));
      x.dispose();
      x = next;
      onStep?.({ index: k + 1, steps: timesteps.length, timestep: timesteps[k], x });
    }
    return x;
  } catch (error) {
    x.dispose();
    throw error;
  }
}
