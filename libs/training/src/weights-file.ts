import type { ScheduleConfig } from '@ddpm/diffusion-core';
import type { UNetConfig } from '@ddpm/unet';
import { readStateFile, writeStateFile } from './state-file.ts';

/** Everything needed to sample from trained weights without the run's flags. */
export interface WeightsMeta {
  readonly kind: 'weights';
  readonly preset: string;
  readonly config: UNetConfig;
  readonly schedule: ScheduleConfig;
  /** Number of optimizer steps the weights have seen. */
  readonly step: number;
}

/** Trained parameters and their exponential moving average, flat, in the model's parameter order. */
export interface Weights {
  readonly meta: WeightsMeta;
  readonly params: Float32Array;
  readonly ema: Float32Array;
}

/** Writes weights atomically with checksums (see writeStateFile). */
export function saveWeights(path: string, weights: Weights): void {
  writeStateFile(path, weights.meta, { params: weights.params, ema: weights.ema });
}

/**
 * Reads and verifies weights written by {@link saveWeights}. Throws a message naming the file and the fix when the
 * file is corrupt, truncated, or not a weights file.
 */
export function loadWeights(path: string): Weights {
  const { meta, sections } = readStateFile<WeightsMeta>(path);
  const params = sections.get('params');
  const ema = sections.get('ema');
  if (meta?.kind !== 'weights' || params === undefined || ema === undefined || params.length !== ema.length) {
    throw new Error(`${path} is a ddpm state file but not a weights file; pass the weights.ddpm of a finished run.`);
  }
  return { meta, params, ema };
}
