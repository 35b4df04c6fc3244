import * as tf from '@tensorflow/tfjs-core';
import { qSample } from './forward.ts';
import type { Rng } from './random.ts';
import type { DiffusionSchedule } from './schedule.ts';
import { checkSameShape } from './tensor-checks.ts';

/**
 * A noise-prediction network ε_θ(x_t, t): images [batch, h, w, c] and int32 timesteps [batch] in [0, T) in,
 * predicted noise of the same shape as the images out.
 * Contract: returns a new tensor (or one created inside the caller's tidy scope) and does not dispose its inputs.
 */
export type NoiseModel = (xt: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor4D;

/** The random part of one training step, drawn in JavaScript so that it is reproducible and resumable. */
export interface TrainingInputs {
  /** One timestep per sample, uniform in [0, T). */
  readonly t: Int32Array;
  /** Standard normal noise ε, batch·h·w·c values in row-major [batch, h, w, c] order. */
  readonly noise: Float32Array;
  /**
   * One 32-bit key per sample from which the model draws that sample's dropout masks (training mode); absent when
   * the inputs were not drawn per sample, and then no dropout is applied.
   */
  readonly keys?: Uint32Array;
}

/**
 * Draws the timesteps and the noise for one training step of `batchSize` samples of shape `sampleShape` ([h, w, c]).
 *
 * Promises: every random number comes from `rng`, in a fixed order (all timesteps first, then all noise values), so the
 * same Rng state gives the same inputs on any machine; saving `rng.state()` after this call is enough to resume.
 * Preconditions: batchSize is a positive integer; sampleShape holds positive integers.
 * Does not: allocate tensors (diffusionLoss does, inside its own scope).
 */
export function sampleTrainingInputs(
  schedule: DiffusionSchedule,
  batchSize: number,
  sampleShape: readonly number[],
  rng: Rng,
): TrainingInputs {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `sampleTrainingInputs needs a positive integer batchSize, got ${batchSize}; pass the local batch size.`,
    );
  }
  if (sampleShape.length === 0 || !sampleShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(
      `sampleTrainingInputs needs a sample shape of positive integers like [28, 28, 1], got [${sampleShape.join(', ')}].`,
    );
  }
  const size = batchSize * sampleShape.reduce((a, b) => a * b, 1);
  const t = rng.ints(batchSize, schedule.timesteps);
  const noise = rng.fillNormal(new Float32Array(size));
  return { t, noise };
}

/**
 * The simplified DDPM objective (Ho et al. 2020, eq. 14): mean over every element of (ε − ε_θ(x_t, t))², where
 * x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε is built with {@link qSample} from the given timesteps and noise.
 *
 * Promises: a float32 scalar the caller owns; every intermediate tensor is released. Works inside tf.grads and
 * tf.variableGrads (the gradient flows through the model only; x_0, t and ε are constants) once the caller has
 * registered tfjs's gradients: this tfjs-core-only library registers none; importing @ddpm/backend or
 * @tensorflow/tfjs does (ensureLossGradientsRegistered checks it).
 * Preconditions: x0 is [batch, h, w, c]; `inputs` came from {@link sampleTrainingInputs} for this batch and shape
 * (one timestep per sample, in [0, T); one noise value per element); `model` returns the shape of x0.
 * Does not: dispose x0, draw random numbers, or weight timesteps (every sample counts equally).
 */
export function diffusionLoss(
  schedule: DiffusionSchedule,
  model: NoiseModel,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
): tf.Scalar {
  const { t, noise } = inputs;
  if (x0.rank !== 4) {
    throw new Error(
      `diffusionLoss needs x0 of rank 4 [batch, height, width, channels], got shape [${x0.shape.join(', ')}].`,
    );
  }
  if (t.length !== x0.shape[0] || noise.length !== x0.size) {
    throw new Error(
      `diffusionLoss got ${t.length} timesteps and ${noise.length} noise values for x0 of shape [${x0.shape.join(', ')}]; ` +
        'draw the inputs with sampleTrainingInputs(schedule, batch, [h, w, c], rng) for this exact batch.',
    );
  }
  for (const step of t) {
    if (step < 0 || step >= schedule.timesteps) {
      throw new RangeError(
        `diffusionLoss got timestep ${step}, outside [0, ${schedule.timesteps}); the inputs were drawn for another schedule.`,
      );
    }
  }
  return tf.tidy(() => {
    const timesteps = tf.tensor1d(t, 'int32');
    const epsilon = tf.tensor4d(noise, x0.shape, 'float32');
    const xt = qSample(schedule, x0, timesteps, epsilon);
    const predicted = model(xt, timesteps);
    checkSameShape('diffusionLoss', 'the model output', predicted, x0);
    return tf.mean(tf.squaredDifference(epsilon, predicted));
  });
}
