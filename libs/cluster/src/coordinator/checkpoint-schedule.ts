import { PROTOCOL_VERSION } from '@ddpm/protocol';
import {
  type AdamState,
  CHECKPOINT_FORMAT,
  type Checkpoint,
  type DataOrderState,
  type OptimizerState,
  type RunConfig,
} from '@ddpm/training';
import type { UNetConfig } from '@ddpm/unet';

/** When checkpoints are written: every `everySteps` steps and/or `everySeconds` seconds (0: not by that), and at the end. */
export interface CheckpointPolicy {
  readonly everySteps: number;
  readonly everySeconds: number;
}

/**
 * Decides when a checkpoint is due. Pure: the caller passes the clock (milliseconds) and reports each write.
 * Without a policy nothing is ever due.
 */
export class CheckpointSchedule {
  constructor(
    readonly policy: CheckpointPolicy | undefined,
    private lastMs: number,
  ) {}

  /** Whether a checkpoint is due once `step` of `total` steps are done. */
  due(step: number, total: number, nowMs: number): boolean {
    const policy = this.policy;
    if (policy === undefined) return false;
    if (step >= total) return true;
    if (policy.everySteps > 0 && step % policy.everySteps === 0) return true;
    return policy.everySeconds > 0 && nowMs - this.lastMs >= policy.everySeconds * 1000;
  }

  written(nowMs: number): void {
    this.lastMs = nowMs;
  }
}

/** Identity of the run a checkpoint belongs to. */
export interface CheckpointRun {
  readonly runId: string;
  readonly run: RunConfig;
  readonly model: UNetConfig;
  readonly fingerprint: string;
}

/** A checkpoint of a step boundary: the run, where it stands, the data order and the optimizer (views, not copies). */
export function checkpointOf(
  run: CheckpointRun,
  position: { readonly step: number; readonly skippedSteps: number; readonly lastLoss: number },
  dataOrder: DataOrderState,
  optimizer: OptimizerState,
  inner?: readonly AdamState[],
): Checkpoint {
  return {
    meta: {
      kind: 'checkpoint',
      format: CHECKPOINT_FORMAT,
      protocolVersion: PROTOCOL_VERSION,
      runId: run.runId,
      step: position.step,
      dataOrder,
      rng: {},
      run: run.run,
      model: run.model,
      datasetFingerprint: run.fingerprint,
      adamCount: 0,
      skippedSteps: position.skippedSteps,
      lastLoss: Number.isFinite(position.lastLoss) ? position.lastLoss : null,
      writtenAt: new Date().toISOString(),
    },
    optimizer,
    ...(inner === undefined ? {} : { inner }),
  };
}
