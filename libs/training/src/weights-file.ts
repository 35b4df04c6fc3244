import type { ScheduleConfig } from '@ddpm/diffusion-core';
import type { UNetConfig } from '@ddpm/unet';
import { loadCheckpoint } from './checkpoint.ts';
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
 * Reads and verifies weights written by {@link saveWeights}, or the parameters and EMA of a checkpoint written by a
 * coordinator (OUT/checkpoints/step-N.ckpt). Throws a message naming the file and the fix when the file is corrupt,
 * truncated, or neither kind.
 */
export function loadWeights(path: string): Weights {
  const { meta, sections } = readStateFile<WeightsMeta | { kind: 'checkpoint' }>(path);
  if (meta?.kind === 'checkpoint') {
    const { meta: c, optimizer } = loadCheckpoint(path);
    return {
      meta: { kind: 'weights', preset: c.run.preset, config: c.model, schedule: c.run.schedule, step: c.step },
      params: optimizer.params,
      ema: optimizer.ema,
    };
  }
  const params = sections.get('params');
  const ema = sections.get('ema');
  if (meta?.kind !== 'weights' || params === undefined || ema === undefined || params.length !== ema.length) {
    throw new Error(
      `${path} is a ddpm state file but neither weights nor a checkpoint; pass the weights.ddpm of a finished run or a file of OUT/checkpoints/.`,
    );
  }
  return { meta, params, ema };
}
