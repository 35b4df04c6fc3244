import type { UNetConfig } from '@ddpm/unet';
import type { AdamState } from './adam.ts';
import type { DataOrderState } from './data-order.ts';
import type { OptimizerState } from './optimizer.ts';
import { readStateFile, writeStateFile, type StateFileWriteOptions } from './state-file.ts';
import type { RunConfig } from './run-config.ts';

/** Version of the checkpoint layout (sections and meta fields below); bumped on any incompatible change. */
export const CHECKPOINT_FORMAT = 1;

/** The JSON part of a checkpoint. */
export interface CheckpointMeta {
  readonly kind: 'checkpoint';
  readonly format: number;
  /** The wire protocol version of the coordinator that wrote it (ddpm.v1 → 1). */
  readonly protocolVersion: number;
  /** The run it belongs to; a resumed coordinator keeps it, so reconnecting workers recognise the run. */
  readonly runId: string;
  /** Optimizer steps completed: the next step to run is `step` (0-based). */
  readonly step: number;
  /** Where the data order stands: the epoch cursor (epoch and position in its permutation) and given-back indices. */
  readonly dataOrder: DataOrderState;
  /**
   * Generator states. Empty by design: the data order is keyed by (seed, epoch), each sample's t and noise by
   * (seed, step, dataset index) and the initial weights by the seed, so no generator carries state between steps.
   */
  readonly rng: Record<string, never>;
  /** The run's configuration (preset, batch, seed, optimizer, schedule, ...). */
  readonly run: RunConfig;
  /** The resolved U-Net config, so `ddpm sample` can use a checkpoint without the preset table. */
  readonly model: UNetConfig;
  /** Fingerprint of the dataset the data order walks (see datasetFingerprint in @ddpm/data). */
  readonly datasetFingerprint: string;
  /** Adam's update count (the t of the bias correction). */
  readonly adamCount: number;
  readonly skippedSteps: number;
  /** Loss of the last applied step, or null before the first. */
  readonly lastLoss: number | null;
  /** ISO time of writing, informational. */
  readonly writtenAt: string;
  /** --sync-every: the inner Adam update count of each shard (sections inner_m_K, inner_v_K); absent otherwise. */
  readonly innerCounts?: readonly number[];
}

/** A checkpoint: everything a coordinator needs to continue a run exactly where it stood. */
export interface Checkpoint {
  readonly meta: CheckpointMeta;
  readonly optimizer: OptimizerState;
  /**
   * --sync-every: the workers' inner Adam states at this boundary, by shard index (StepStart.shard_index); absent in
   * synchronous runs and in checkpoints written without them.
   */
  readonly inner?: readonly AdamState[];
}

/**
 * Writes a checkpoint atomically with checksums (temp file, fsync, rename, fsync of the directory; see writeStateFile):
 * a reader sees the previous file or this one, never a mix, even if the process is killed mid-write.
 * Sections: params, ema, adam_m, adam_v (float32, the model's parameter order). With --sync-every, adam_m is the outer
 * momentum, adam_v is empty, and inner_m_K, inner_v_K hold shard K's inner Adam moments (their counts in the meta).
 */
export function saveCheckpoint(path: string, checkpoint: Checkpoint, options: StateFileWriteOptions = {}): void {
  const { meta, optimizer, inner } = checkpoint;
  const sections: Record<string, Float32Array> = {
    ...{ params: optimizer.params, ema: optimizer.ema, adam_m: optimizer.adam.m, adam_v: optimizer.adam.v },
  };
  inner?.forEach((state, shard) => {
    sections[`inner_m_${shard}`] = state.m;
    sections[`inner_v_${shard}`] = state.v;
  });
  const innerCounts = inner?.map((state) => state.count);
  writeStateFile(path, { ...meta, adamCount: optimizer.adam.count, innerCounts }, sections, options);
}

/**
 * Reads and verifies a checkpoint written by {@link saveCheckpoint}. Throws an error naming the file and the fix when it
 * is truncated, corrupt, of another format, or not a checkpoint (e.g. final weights, which lack the optimizer state).
 */
export function loadCheckpoint(path: string): Checkpoint {
  const { meta, sections } = readStateFile<CheckpointMeta>(path);
  if (meta?.kind !== 'checkpoint') {
    throw new Error(
      `${path} is a ddpm state file but not a checkpoint (kind '${String(meta?.kind)}'); resume from a file in OUT/checkpoints/, or pass --resume latest.`,
    );
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${path} has checkpoint format ${meta.format} but this build reads format ${CHECKPOINT_FORMAT}; resume it with the ddpm version that wrote it.`,
    );
  }
  const [params, ema, m, v] = ['params', 'ema', 'adam_m', 'adam_v'].map((name) => sections.get(name));
  const damaged = new Error(
    `${path} lacks a section or has sections of different lengths; it is damaged. Resume from an earlier checkpoint.`,
  );
  // The outer optimizer of --sync-every keeps one moment (adam_m) and no adam_v.
  const vLength = meta.run.lowCommunication === undefined ? params?.length : 0;
  if (params === undefined || ema === undefined || m === undefined || v === undefined) throw damaged;
  if (ema.length !== params.length || m.length !== params.length || v.length !== vLength) throw damaged;
  const inner = meta.innerCounts?.map((count, shard) => {
    const [im, iv] = [sections.get(`inner_m_${shard}`), sections.get(`inner_v_${shard}`)];
    if (im?.length !== params.length || iv?.length !== params.length) throw damaged;
    return { m: im, v: iv, count };
  });
  const optimizer = { params, ema, adam: { m, v, count: meta.adamCount } };
  return inner === undefined ? { meta, optimizer } : { meta, optimizer, inner };
}
