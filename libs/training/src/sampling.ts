import * as tf from '@tensorflow/tfjs-core';
import { ddimSample, ddpmSample, Rng, type DiffusionSchedule, type SamplerCallback } from '@ddpm/diffusion-core';
import { unflattenWeights, type UNet } from '@ddpm/unet';

/** Which reverse process draws the images. */
export type SamplerName = 'ddpm' | 'ddim';
export const SAMPLER_NAMES: readonly SamplerName[] = ['ddpm', 'ddim'];

export interface SampleOptions {
  readonly sampler: SamplerName;
  /** Number of images. */
  readonly count: number;
  /** DDIM steps S ≤ T; ignored by the DDPM sampler, which always runs all T steps. */
  readonly steps: number;
  /** DDIM η (0 = deterministic). */
  readonly eta: number;
  readonly seed: number;
  /** Called after every reverse step (for progress display). */
  readonly onStep?: SamplerCallback;
}

/**
 * Draws `count` images from the model with the given flat weights (use the EMA weights for the best samples).
 * Returns NHWC float32 values, nominally in [-1, 1] (the samplers clip their x0 prediction).
 * Promises: deterministic for a given seed and backend; every tensor it creates is released.
 */
export async function drawSamples(
  model: UNet,
  schedule: DiffusionSchedule,
  weights: Float32Array,
  options: SampleOptions,
): Promise<Float32Array> {
  const w = unflattenWeights(model.specs, weights);
  const { imageSize, inChannels } = model.config;
  const shape: [number, number, number, number] = [options.count, imageSize, imageSize, inChannels];
  const eps = (xt: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D => model.apply(w, xt, t);
  const rng = new Rng(options.seed);
  try {
    const images =
      options.sampler === 'ddpm'
        ? ddpmSample(schedule, eps, shape, { rng, variance: 'beta', clipDenoised: true, onStep: options.onStep })
        : ddimSample(schedule, eps, shape, {
            rng,
            steps: options.steps,
            eta: options.eta,
            clipDenoised: true,
            onStep: options.onStep,
          });
    const values = (await images.data()) as Float32Array;
    images.dispose();
    return values;
  } finally {
    tf.dispose(w);
  }
}
