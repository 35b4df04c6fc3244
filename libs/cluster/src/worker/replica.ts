import { makeSchedule, type DiffusionSchedule } from '@ddpm/diffusion-core';
import {
  DType,
  ErrorCode,
  ErrorReason,
  expectTensor,
  findTensor,
  isProtocolError,
  parameterChecksum,
  ProtocolError,
  TENSOR_NAMES,
  UpdateKind,
  type DecodedMessage,
} from '@ddpm/protocol';
import { BucketLayout } from '@ddpm/training';
import { UNet } from '@ddpm/unet';
import { applyBfloat16Delta } from '../bfloat16-updates.ts';
import { parseModelDescription } from '../model-description.ts';

type Welcome = Extract<DecodedMessage, { kind: 'welcome' }>;

/** Liveness defaults before the first Welcome says the coordinator's. */
export const DEFAULT_HEARTBEAT_MS = 2000;

/**
 * A worker's copy of the run: the model, its parameters and the step's UpdateBuckets, as the Welcome, UpdateBuckets and
 * Updates describe them. No sockets: messages in, a verdict out.
 *
 * Promises: the parameters change only as the coordinator's messages say (Welcome, a confirmed set of UpdateBuckets, an
 * Update with parameters); {@link checksum} is their CRC-32, computed at most once per change; an Update that cannot be
 * applied (missing UpdateBuckets, checksum mismatch) returns a STALE_STATE error to send.
 * Does not: compute gradients or send anything.
 */
export class Replica {
  /** The replica's parameters. Swapped with `next` when an Update of kind BUCKETS confirms the step's UpdateBuckets. */
  params: Float32Array;
  /** Where this step's UpdateBuckets are assembled (the parameters after the step, if the Update confirms them). */
  private next: Float32Array;
  /**
   * Where each step's gradient is written, reused across steps (fresh memory is expensive to touch). Safe although
   * gradients are sent zero-copy: the next StepStart only comes after the coordinator received this gradient whole.
   */
  readonly gradient: Float32Array;
  /** The gradient in bfloat16 as it is sent, when the Welcome asked for it (wire_dtype BFLOAT16); same reuse rule. */
  readonly gradientWire: Uint16Array | undefined;
  private knownChecksum: number | undefined;
  /** Per bucket, 1 once this step's UpdateBucket for it arrived. */
  private readonly arrived: Uint8Array;
  /** The step of the last StepStart (the step in progress), or -1 before the first. */
  step = -1;
  /** The step whose Update this replica applied last (step of Welcome − 1 initially). */
  appliedStep: number;
  /** Welcome.sync_every: inner steps per StepStart (1: synchronous training). */
  syncEvery = 1;
  /** Welcome.hyper_parameters: the inner optimiser's settings with --sync-every. */
  hyper: Welcome['body']['hyperParameters'] | undefined;

  private constructor(
    readonly workerId: number,
    readonly runId: string,
    readonly configJson: string,
    readonly model: UNet,
    readonly schedule: DiffusionSchedule,
    readonly layout: BucketLayout,
    readonly heartbeatIntervalMs: number,
    readonly heartbeatTimeoutMs: number,
    welcomeStep: number,
    buffers: {
      params: Float32Array;
      checksum: number;
      next?: Float32Array;
      gradient?: Float32Array;
      gradientWire?: Uint16Array;
    },
  ) {
    this.params = buffers.params;
    this.knownChecksum = buffers.checksum;
    this.next = buffers.next ?? new Float32Array(buffers.params.length);
    this.gradient = buffers.gradient ?? new Float32Array(buffers.params.length);
    this.gradientWire = buffers.gradientWire;
    this.arrived = new Uint8Array(layout.count);
    this.appliedStep = welcomeStep - 1;
  }

  /**
   * The replica a Welcome describes; `previous` (this worker's replica before a rejoin) lends its model and buffers when
   * the run's model is the same, and its parameters when the Welcome omits them. Throws an Error saying what to do when
   * the Welcome cannot be used (unreadable config, bad bucket starts, corrupt or missing parameters).
   */
  static fromWelcome(message: Welcome, previous: Replica | undefined): Replica {
    const welcome = message.body;
    const configJson = welcome.model?.configJson ?? '';
    const described = parseModelDescription(configJson);
    const reuse = previous !== undefined && previous.configJson === configJson ? previous : undefined;
    const model = reuse?.model ?? new UNet(described.unet);
    const layout = new BucketLayout(welcome.bucketStarts, model.parameterCount(), 'Welcome.bucket_starts');
    let params: Float32Array;
    let checksum: number;
    if (welcome.parametersOmitted) {
      if (previous === undefined || previous.checksum() !== welcome.parameterChecksum)
        throw new Error(
          'The coordinator omitted the parameters but this replica does not hold them; restart the worker.',
        );
      params = previous.params;
      checksum = previous.checksum();
    } else {
      ({ params, checksum } = receivedParameters(message, model.parameterCount()));
      params = params.slice();
    }
    if (checksum !== welcome.parameterChecksum)
      throw new Error(
        'The parameters in Welcome do not match their checksum; the transfer was corrupted. Restart the worker.',
      );
    const replica = new Replica(
      welcome.workerId,
      welcome.runId,
      configJson,
      model,
      reuse?.schedule ?? makeSchedule(described.schedule),
      layout,
      welcome.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS,
      welcome.heartbeatTimeoutMs || 5 * DEFAULT_HEARTBEAT_MS,
      welcome.step,
      {
        ...{ params, checksum, next: reuse?.next, gradient: reuse?.gradient },
        gradientWire:
          welcome.wireDtype === DType.BFLOAT16 ? (reuse?.gradientWire ?? new Uint16Array(params.length)) : undefined,
      },
    );
    replica.syncEvery = Math.max(1, welcome.syncEvery);
    replica.hyper = welcome.hyperParameters ?? undefined;
    return replica;
  }

  /**
   * A replica of the same run and model that computes at `params` into `gradient`: what the inner steps of --sync-every
   * hand their gradient source. Shares the model, schedule and layout; its checksum is not meaningful.
   */
  innerView(params: Float32Array, gradient: Float32Array): Replica {
    return new Replica(
      ...([this.workerId, this.runId, this.configJson, this.model, this.schedule, this.layout] as const),
      ...([this.heartbeatIntervalMs, this.heartbeatTimeoutMs, this.appliedStep + 1] as const),
      { params, checksum: 0, next: params, gradient },
    );
  }

  /** The parameters' CRC-32 (one pass, only when the last update left it unknown). */
  checksum(): number {
    this.knownChecksum ??= parameterChecksum(this.params);
    return this.knownChecksum;
  }

  /** A StepStart for `step` (its checksum, 0 meaning "checked per Gradient instead"); a STALE_STATE error when stale. */
  beginStep(step: number, expectedChecksum: number): ProtocolError | undefined {
    if (expectedChecksum !== 0 && this.checksum() !== expectedChecksum) {
      return new ProtocolError(
        ErrorCode.STALE_STATE,
        `parameters of this replica differ from the coordinator's at step ${step}.`,
        { reason: ErrorReason.RESYNC_FOLLOWS },
      );
    }
    this.step = step;
    this.arrived.fill(0);
    return undefined;
  }

  /** How many UpdateBuckets of the step in progress have not arrived yet. */
  get missingBuckets(): number {
    return this.arrived.length - this.arrived.reduce((sum, arrived) => sum + arrived, 0);
  }

  /** Keeps one bucket of the step's proposed parameters until the step's Update says whether they count. */
  updateBucket(message: Extract<DecodedMessage, { kind: 'updateBucket' }>): string | undefined {
    const { step, bucket } = message.body;
    // A worker given no samples this step (a short last batch of an epoch) gets no StepStart but does get the update.
    if (step === this.appliedStep + 1 && step !== this.step) {
      this.step = step;
      this.arrived.fill(0);
    }
    if (step !== this.step || bucket >= this.layout.count)
      return `an UpdateBucket for another step (${step}) or an unknown bucket (${bucket})`;
    const { start, end } = this.layout.range(bucket);
    try {
      if (findTensor(message.tensors, TENSOR_NAMES.delta) === undefined)
        this.next.set(expectTensor(message.tensors, TENSOR_NAMES.parameters, [end - start], 'float32'), start);
      else {
        // --wire-dtype bfloat16: the new parameters are ours plus the delta, added in float32 as the coordinator did.
        const delta = expectTensor(message.tensors, TENSOR_NAMES.delta, [end - start], 'bfloat16');
        applyBfloat16Delta(this.params.subarray(start, end), delta, this.next.subarray(start, end));
      }
      this.arrived[bucket] = 1;
      return undefined;
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      return `a malformed UpdateBucket (${error.message}); the Update of this step will ask for fresh state`;
    }
  }

  /** Applies an Update; returns the STALE_STATE error to send when it cannot be applied. */
  update(message: Extract<DecodedMessage, { kind: 'update' }>): ProtocolError | undefined {
    const update = message.body;
    if (!update.skipped && update.kind === UpdateKind.BUCKETS) {
      const missing = this.arrived.length - this.arrived.reduce((sum, arrived) => sum + arrived, 0);
      if (missing > 0 || update.step !== this.step) {
        return new ProtocolError(
          ErrorCode.STALE_STATE,
          `cannot apply the update of step ${update.step}: ${missing} UpdateBucket(s) missing.`,
          { reason: ErrorReason.RESYNC_FOLLOWS },
        );
      }
      [this.params, this.next] = [this.next, this.params];
      // Computed when first needed: the coordinator sent no checksum here because it had not computed it yet either.
      this.knownChecksum = undefined;
      this.appliedStep = update.step;
      return undefined;
    }
    if (!update.skipped) {
      // Copied into the replica's own buffer: no fresh memory per step, and the received frame can be freed young.
      const { params, checksum } = receivedParameters(message, this.params.length);
      this.params.set(params);
      this.knownChecksum = checksum;
    }
    this.appliedStep = update.step;
    if (this.checksum() !== update.parameterChecksum) {
      return new ProtocolError(
        ErrorCode.STALE_STATE,
        `parameter checksum mismatch after the update of step ${update.step}.`,
        { reason: ErrorReason.RESYNC_FOLLOWS },
      );
    }
    return undefined;
  }
}

/**
 * The parameters of a Welcome or Update and their checksum, which is the frame's CRC-32 that decodeMessage already
 * verified. The array may view the received frame: copy it to keep it.
 */
function receivedParameters(message: DecodedMessage, count: number): { params: Float32Array; checksum: number } {
  const params = expectTensor(message.tensors, TENSOR_NAMES.parameters, [count], 'float32');
  const tensor = findTensor(message.tensors, TENSOR_NAMES.parameters);
  if (tensor === undefined)
    throw new Error('receivedParameters: expectTensor returned a tensor findTensor cannot find; this is a bug.');
  return { params, checksum: tensor.crc32 };
}
