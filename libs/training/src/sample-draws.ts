import { Rng, type TrainingInputs } from '@ddpm/diffusion-core';

/**
 * Draws t and ε for each sample from a generator keyed by (run seed, step, dataset index) alone, and returns those
 * keys, from which the model draws the sample's dropout masks.
 *
 * Promises: a sample's draws do not depend on which worker computes it, on the local batch it sits in, or on how
 * many workers there are. This is what makes two workers with local batch b compute exactly the gradient of one
 * process with batch 2b, and what makes resume exact without saving any generator state for the noise.
 * Precondition: `imageSize` is h·w·c of one image; timesteps >= 1.
 */
export function drawTrainingInputs(
  seed: number,
  step: number,
  indices: ArrayLike<number>,
  imageSize: number,
  timesteps: number,
): TrainingInputs {
  const t = new Int32Array(indices.length);
  const noise = new Float32Array(indices.length * imageSize);
  const keys = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    keys[i] = sampleKey(seed, step, indices[i]);
    const rng = new Rng(keys[i]);
    t[i] = rng.int(timesteps);
    rng.fillNormal(noise.subarray(i * imageSize, (i + 1) * imageSize));
  }
  return { t, noise, keys };
}

/** A 32-bit key mixing the three integers (murmur3-style finaliser), so neighbouring samples get unrelated streams. */
export function sampleKey(seed: number, step: number, index: number): number {
  let h = Math.imul(seed ^ 0x3c6ef372, 0x9e3779b1);
  h = Math.imul(h ^ (step + 0x7f4a7c15), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h ^ index, 0xc2b2ae35);
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}
