import type { Dataset } from '@ddpm/data';
import type { Bfloat16Updates } from '../bfloat16-updates.ts';
import {
  DType,
  parameterChecksum,
  Phase,
  SkipReason,
  TENSOR_NAMES,
  Topology,
  UpdateKind,
  type ProtocolError,
  type ProtocolLimits,
  type WireDtype,
} from '@ddpm/protocol';
import type { BucketLayout, RunConfig } from '@ddpm/training';
import type { UNetConfig } from '@ddpm/unet';
import type { ModelDescription } from '../model-description.ts';
import type { Outgoing } from './actions.ts';
import type { InnerStateBook } from './inner-state-book.ts';

/** What the coordinator tells every worker about the run; fixed for the whole run. */
export interface RunDescription {
  readonly runId: string;
  readonly run: RunConfig;
  readonly model: UNetConfig;
  readonly parameterCount: number;
  readonly datasetSize: number;
  readonly limits: ProtocolLimits;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** Welcome.bucket_starts: how gradients and updates are cut into buckets. */
  readonly layout: BucketLayout;
  /** Welcome.wire_dtype. */
  readonly wireDtype: WireDtype;
  /** Welcome.topology (see docs/topology.md). */
  readonly topology: 'star' | 'sharded';
  /** --sync-every: the workers' inner states for checkpoints (the one part that changes during the run). */
  readonly innerStates?: InnerStateBook;
}

/**
 * A Welcome carrying the current parameters (also the answer to a worker with stale state). The array goes out
 * zero-copy: pass a copy nothing else writes to.
 */
export function welcomeMessage(
  run: RunDescription,
  workerId: number,
  step: number,
  checksum: number,
  params: Float32Array,
): Outgoing {
  const { optimizer, lowCommunication } = run.run;
  const model: ModelDescription = { unet: run.model, schedule: run.run.schedule };
  return {
    body: {
      welcome: {
        workerId,
        runId: run.runId,
        step,
        parameterChecksum: checksum,
        model: { preset: run.run.preset, configJson: JSON.stringify(model), parameterCount: run.parameterCount },
        hyperParameters: {
          learningRate: optimizer.lr,
          adamBeta1: optimizer.adam.beta1,
          adamBeta2: optimizer.adam.beta2,
          adamEpsilon: optimizer.adam.epsilon,
          emaDecay: optimizer.emaDecay,
          globalBatchSize: 0,
          gradientClipNorm: optimizer.clip,
          warmupSteps: optimizer.warmup,
          diffusionSteps: run.run.schedule.timesteps,
          seed: run.run.seed,
          outerLearningRate: lowCommunication?.outerLr ?? 0,
          outerMomentum: lowCommunication?.outerMomentum ?? 0,
        },
        heartbeatIntervalMs: run.heartbeatIntervalMs,
        heartbeatTimeoutMs: run.heartbeatTimeoutMs,
        maxMessageBytes: run.limits.maxMessageBytes,
        datasetSize: run.datasetSize,
        bucketStarts: [...run.layout.starts],
        wireDtype: run.wireDtype === 'bfloat16' ? DType.BFLOAT16 : DType.FLOAT32,
        topology: run.topology === 'sharded' ? Topology.SHARDED : Topology.STAR,
        syncEvery: lowCommunication?.syncEvery ?? 0,
      },
    },
    tensors: [{ name: TENSOR_NAMES.parameters, data: params, shape: [params.length], crc32: checksum }],
  };
}

/** The assignment of one step to one worker. */
export interface StepAssignment {
  readonly step: number;
  readonly epoch: number;
  readonly indices: Uint32Array;
  readonly shardIndex: number;
  readonly shardCount: number;
  readonly globalBatchSize: number;
  readonly checksum: number;
  /** The step deadline, StepStart.timeout_ms (0: none). */
  readonly timeoutMs: number;
  /** The sharded topology's StepStart.attempt, peers and bucket_owners (absent in the star). */
  readonly sharded?: ShardedAssignment;
}

/** Who reduces what in one attempt at a step (sharded topology). */
export interface ShardedAssignment {
  readonly attempt: number;
  readonly peers: readonly { workerId: number; endpoint: string; curvePublicKey: Uint8Array }[];
  readonly bucketOwners: readonly number[];
}

/**
 * A StepStart; attaches the samples themselves when `inlineFrom` is given (a worker without the dataset), and with
 * --sync-every asks for the inner state or hands a resumed shard its own (see InnerStateBook).
 */
export function stepStartMessage(run: RunDescription, a: StepAssignment, inlineFrom?: Dataset): Outgoing {
  const tensors = run.innerStates?.handoff(a.step, a.shardIndex) ?? [];
  if (inlineFrom !== undefined) {
    const { height, width, channels } = inlineFrom;
    const size = height * width * channels;
    const samples = new Uint8Array(a.indices.length * size);
    a.indices.forEach((index, i) =>
      samples.set(inlineFrom.images.subarray(index * size, (index + 1) * size), i * size),
    );
    tensors.push({ name: TENSOR_NAMES.samples, data: samples, shape: [a.indices.length, height, width, channels] });
  }
  return {
    body: {
      stepStart: {
        step: a.step,
        epoch: a.epoch,
        indices: Array.from(a.indices),
        samplesInline: inlineFrom !== undefined,
        seed: run.run.seed,
        shardIndex: a.shardIndex,
        shardCount: a.shardCount,
        globalBatchSize: a.globalBatchSize,
        parameterChecksum: a.checksum,
        timeoutMs: a.timeoutMs,
        ...(a.sharded === undefined
          ? {}
          : { attempt: a.sharded.attempt, peers: [...a.sharded.peers], bucketOwners: [...a.sharded.bucketOwners] }),
        innerStateWanted: run.innerStates?.wants(a.step) ?? false,
      },
    },
    tensors,
  };
}

/** A coordinator Heartbeat: its clock, the step in progress (or next), and whether it waits for gradients. */
export function heartbeatMessage(step: number, waiting: boolean): Outgoing {
  return {
    body: { heartbeat: { sentAtUnixMs: Date.now(), echoUnixMs: 0, step, phase: waiting ? Phase.WAITING : Phase.IDLE } },
  };
}

/** What one step did, as every worker is told in the Update. */
export interface StepOutcome {
  readonly step: number;
  readonly epoch: number;
  readonly skipped: boolean;
  /** Why the step was skipped, for the workers' logs ('' when it was not). */
  readonly skipDetail: string;
  readonly learningRate: number;
  readonly loss: number;
  readonly gradientNorm: number;
  readonly samples: number;
  readonly contributors: number;
}

/**
 * An Update: the outcome, and unless the step was skipped either the new parameters (kind PARAMETERS: a snapshot the
 * caller keeps unchanged until the send completed) whose CRC-32 is `checksum`, or, when `params` is undefined, kind
 * BUCKETS: the step's UpdateBuckets are the new parameters (checksum 0 when not computed yet).
 */
export function updateMessage(outcome: StepOutcome, checksum: number, params?: Float32Array): Outgoing {
  const { skipped } = outcome;
  const kind = skipped
    ? UpdateKind.UPDATE_KIND_UNSPECIFIED
    : params === undefined
      ? UpdateKind.BUCKETS
      : UpdateKind.PARAMETERS;
  return {
    body: {
      update: {
        step: outcome.step,
        skipped,
        skipReason: skipped ? SkipReason.NON_FINITE_GRADIENT : SkipReason.SKIP_REASON_UNSPECIFIED,
        skipDetail: outcome.skipDetail,
        parameterChecksum: checksum,
        learningRate: outcome.learningRate,
        kind,
        loss: outcome.loss,
        gradientNorm: outcome.gradientNorm,
        samples: outcome.samples,
        contributors: outcome.contributors,
        epoch: outcome.epoch,
      },
    },
    tensors:
      params === undefined
        ? []
        : [{ name: TENSOR_NAMES.parameters, data: params, shape: [params.length], crc32: checksum }],
  };
}

/**
 * An UpdateBucket: bucket `bucket`'s proposed parameters after step `step` (a view Optimizer.propose keeps intact long
 * enough) and their CRC-32, computed once for all recipients.
 */
export function updateBucketMessage(
  step: number,
  bucket: number,
  params: Float32Array,
  crc32: number,
  attempt = 0,
): Outgoing {
  return {
    body: { updateBucket: { step, bucket, attempt } },
    tensors: [{ name: TENSOR_NAMES.parameters, data: params, shape: [params.length], crc32 }],
  };
}

/**
 * The UpdateBucket of a proposed bucket (the range at `start`): its new parameters, or with `deltas`
 * (--wire-dtype bfloat16) its bfloat16 delta from `params`, `proposed` then becoming exactly what workers rebuild.
 */
export function proposedBucketMessage(
  step: number,
  bucket: number,
  start: number,
  params: Float32Array,
  proposed: Float32Array,
  deltas?: Bfloat16Updates,
  attempt = 0,
): Outgoing {
  if (deltas === undefined) return updateBucketMessage(step, bucket, proposed, parameterChecksum(proposed), attempt);
  const delta = deltas.quantize(step, start, params.subarray(start, start + proposed.length), proposed);
  return {
    body: { updateBucket: { step, bucket, attempt } },
    tensors: [{ name: TENSOR_NAMES.delta, data: delta, shape: [delta.length] }],
  };
}

/** A Shutdown: the run is over (completed) or abandoned, at `finalStep`. */
export function shutdownMessage(reason: string, finalStep: number, completed: boolean): Outgoing {
  return { body: { shutdown: { reason, finalStep, completed } } };
}

/** An Error carrying `error`'s code, reason, message, fatality and step, in reply to message `inReplyTo` (0: none). */
export function errorMessage(error: ProtocolError, inReplyTo = 0): Outgoing {
  return { body: { error: error.toBody(inReplyTo) } };
}
