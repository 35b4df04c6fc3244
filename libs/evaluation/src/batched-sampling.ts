import type { DiffusionSchedule } from '@ddpm/diffusion-core';
import { drawSamples, sampleKey, type SampleOptions } from '@ddpm/training';
import type { UNet } from '@ddpm/unet';

/**
 * The seed of batch `k` of a batched draw: the draw's seed for batch 0 (so a draw that fits one batch is the draw
 * `ddpm sample` made before batching), a mixed key of (seed, k) after it.
 */
export function batchSeed(seed: number, k: number): number {
  return k === 0 ? seed : sampleKey(seed, k, 0x5eed);
}

/** The sizes of the batches of a draw of `count` images at most `batchSize` at a time (the last may be smaller). */
export function batchSizes(count: number, batchSize: number): number[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `batchSizes: count and --batch-size must be positive integers, got ${count} and ${batchSize}.`,
    );
  }
  return Array.from({ length: Math.ceil(count / batchSize) }, (_, k) => Math.min(batchSize, count - k * batchSize));
}

/**
 * Draws `options.count` images `batchSize` at a time, so the sampler's activations never hold more than one batch,
 * and returns them concatenated (NHWC float32). `onBatch` reports progress after each batch.
 * Promises: deterministic for a given (seed, count, batchSize, backend); a different batch size gives other images.
 */
export async function drawSamplesInBatches(
  model: UNet,
  schedule: DiffusionSchedule,
  weights: Float32Array,
  options: SampleOptions,
  batchSize: number,
  onBatch?: (done: number, count: number) => void,
): Promise<Float32Array> {
  const { imageSize, inChannels } = model.config;
  const size = imageSize * imageSize * inChannels;
  const out = new Float32Array(options.count * size);
  let done = 0;
  for (const [k, n] of batchSizes(options.count, batchSize).entries()) {
    const images = await drawSamples(model, schedule, weights, {
      ...options,
      count: n,
      seed: batchSeed(options.seed, k),
    });
    out.set(images, done * size);
    done += n;
    onBatch?.(done, options.count);
  }
  return out;
}
