import { randomInt, randomUUID } from 'node:crypto';
import { datasetFingerprint, type Dataset } from '@ddpm/data';
import type { ProtocolLimits, WireDtype } from '@ddpm/protocol';
import {
  BucketLayout,
  checkDatasetFits,
  DataOrder,
  Optimizer,
  OuterOptimizer,
  type FoundCheckpoint,
  type OptimizerState,
  type RunConfig,
  type StepOptimizer,
} from '@ddpm/training';
import { UNet } from '@ddpm/unet';
import type { CheckpointPolicy } from './checkpoint-schedule.ts';
import { InnerStateBook } from './inner-state-book.ts';
import type { RunDescription } from './messages.ts';
import { checkResumeCompatible } from './resume-check.ts';

/** Default target size of a gradient bucket in bytes. */
export const DEFAULT_BUCKET_BYTES = 1 << 18;

/** Everything a run starts from, new or resumed. */
export interface RunState {
  readonly model: UNet;
  /** Adam, or with --sync-every the outer Nesterov step. */
  readonly optimizer: StepOptimizer;
  readonly order: DataOrder;
  readonly description: RunDescription;
  readonly fingerprint: string;
  /** Where a resumed run stands (zeros and NaN for a new one). */
  readonly resumed: { readonly step: number; readonly skippedSteps: number; readonly finalLoss: number };
  /** The first worker id to hand out (a resumed run starts elsewhere, see Membership). */
  readonly firstWorkerId: number;
}

/** What {@link openRun} needs. */
export interface RunStateOptions {
  readonly run: RunConfig;
  readonly limits: ProtocolLimits;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly bucketBytes?: number;
  /** The dtype workers send gradients in (default float32); the reduce is float32 either way. */
  readonly wireDtype?: WireDtype;
  /** How gradients travel (default star); not part of the checkpoint, so a run may resume in another topology. */
  readonly topology?: 'star' | 'sharded';
  readonly resume?: FoundCheckpoint;
  /** When checkpoints are due (none: never). */
  readonly checkpoints?: CheckpointPolicy;
  /** Milliseconds from a monotonic clock (default performance.now). */
  readonly now?: () => number;
}

/** Adam for synchronous training; the outer Nesterov step for --sync-every. */
function optimizerFor(run: RunConfig, flat: Float32Array, saved?: OptimizerState): StepOptimizer {
  const outer = run.lowCommunication;
  return outer === undefined
    ? new Optimizer(flat, run.optimizer, saved)
    : new OuterOptimizer(flat, run.optimizer, outer, saved);
}

/**
 * The initial state of a run: the seeded initial weights, Adam and data order of a new run, or those of the checkpoint
 * `options.resume` after checking that the flags still describe its run (Error naming each difference otherwise).
 */
export function openRun(options: RunStateOptions, dataset: Dataset): RunState {
  const { run, resume } = options;
  const model = new UNet(checkDatasetFits(run.preset, dataset));
  const fingerprint = datasetFingerprint(dataset);
  const flat = model.initialParameters(run.seed);
  let runId: string = randomUUID();
  let optimizer: StepOptimizer;
  let order: DataOrder;
  let resumed = { step: 0, skippedSteps: 0, finalLoss: Number.NaN };
  if (resume === undefined) {
    optimizer = optimizerFor(run, flat);
    order = DataOrder.start(dataset.count, run.seed);
  } else {
    const { meta, optimizer: saved } = resume.checkpoint;
    checkResumeCompatible(resume.path, meta, run, fingerprint, flat.length, saved.params.length);
    optimizer = optimizerFor(run, flat, saved);
    order = DataOrder.fromState(meta.dataOrder, dataset.count);
    resumed = { step: meta.step, skippedSteps: meta.skippedSteps, finalLoss: meta.lastLoss ?? Number.NaN };
    runId = meta.runId;
  }
  const layout = BucketLayout.forParameters(model.parameterSizes(), options.bucketBytes ?? DEFAULT_BUCKET_BYTES);
  const inner = resume?.checkpoint.inner;
  const restored = inner === undefined ? undefined : { step: resumed.step, states: inner };
  const now = options.now ?? (() => performance.now());
  const innerStates =
    run.lowCommunication === undefined
      ? undefined
      : new InnerStateBook(options.checkpoints, run.steps, layout, now, restored);
  const description: RunDescription = {
    ...{ runId, run, model: model.config, parameterCount: optimizer.params.length, datasetSize: dataset.count },
    ...{ limits: options.limits, heartbeatIntervalMs: options.heartbeatIntervalMs },
    ...{ heartbeatTimeoutMs: options.heartbeatTimeoutMs, layout, wireDtype: options.wireDtype ?? 'float32' },
    topology: options.topology ?? 'star',
    innerStates,
  };
  const firstWorkerId = resume === undefined ? 1 : 1 + randomInt(1, 1 << 20) * 1024;
  return { model, optimizer, order, description, fingerprint, resumed, firstWorkerId };
}
