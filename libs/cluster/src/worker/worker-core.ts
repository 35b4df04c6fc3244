import type { Logger } from 'pino';
import type { WorkerMetrics } from '@ddpm/metrics';
import { datasetFingerprint, type Dataset } from '@ddpm/data';
import {
  countNonFinite,
  parameterChecksum,
  ErrorCode,
  ErrorReason,
  Phase,
  PROTOCOL_VERSION,
  TENSOR_NAMES,
  toBfloat16,
  type DecodedMessage,
  type ErrorBody,
  type OutgoingBody,
  type ProtocolError,
  type ProtocolLimits,
  type TensorInput,
} from '@ddpm/protocol';
import { globalNorm } from '@ddpm/training';
import type { GradientSource } from './gradient-source.ts';
import { Replica } from './replica.ts';

/** Sends one message to the coordinator, in call order, also from inside a synchronous compute. */
export interface WorkerLink {
  send(body: OutgoingBody, tensors?: readonly TensorInput[]): Promise<void>;
}

/** How a message left the worker: the run ended, it was told to go, or the coordinator is lost. */
export type Outcome =
  | { readonly kind: 'shutdown'; readonly completed: boolean }
  | { readonly kind: 'left' }
  | { readonly kind: 'lost'; readonly reason: string }
  | { readonly kind: 'joined' };

/** Who the worker is. */
export interface WorkerIdentity {
  readonly name: string;
  /** The tfjs backend in use (reported in Hello). */
  readonly backend: string;
  /** This worker's copy of the dataset, or undefined to receive samples from the coordinator. */
  readonly dataset: Dataset | undefined;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
}

/**
 * A worker's protocol, without sockets: Hello, then for every StepStart the gradient from its source, sent bucket by
 * bucket the moment each is final; UpdateBuckets and Updates go to the {@link Replica}.
 *
 * Promises: never computes on parameters whose checksum differs from one the coordinator sent (StepStart, Update), and
 * reports its own checksum with every gradient bucket; a non-finite bucket is reported (all_finite = false) instead
 * of sent; a step missing an UpdateBucket is answered STALE_STATE; STALE_STATE or UNKNOWN_WORKER from the coordinator
 * is answered with a Hello that resumes.
 * Does not: connect, reconnect or send heartbeats on a timer (the shell does), or run an optimizer.
 */
export class WorkerCore {
  replica: Replica | undefined;
  /** True between a Hello and its Welcome. */
  joining = false;
  steps = 0;
  /** Hello.peer_endpoint and curve_public_key (sharded topology), set by the shell before the first Hello. */
  peer: { readonly endpoint: string; readonly curvePublicKey?: Uint8Array } | undefined;
  private waiting: (() => number) | undefined;

  constructor(
    private readonly identity: WorkerIdentity,
    private readonly source: GradientSource,
    private readonly link: WorkerLink,
  ) {}

  /** The header of the next message: while joining, worker id 0 and no run id. */
  header(hello: boolean): { workerId: number; runId: string } {
    const replica = this.replica;
    if (hello || this.joining || replica === undefined) return { workerId: 0, runId: '' };
    return { workerId: replica.workerId, runId: replica.runId };
  }

  async handle(message: DecodedMessage): Promise<Outcome | undefined> {
    const { log } = this.identity;
    switch (message.kind) {
      case 'welcome':
        this.welcome(message);
        return { kind: 'joined' };
      case 'stepStart':
        await this.stepStart(message);
        return undefined;
      case 'updateBucket': {
        const problem = this.active()?.updateBucket(message);
        if (problem !== undefined)
          log.warn({ step: message.body.step, bucket: message.body.bucket }, `ignored ${problem}`);
        return undefined;
      }
      case 'update':
        await this.update(message);
        return undefined;
      case 'shutdown':
        log.info({ reason: message.body.reason, finalStep: message.body.finalStep }, 'coordinator shut the run down');
        return { kind: 'shutdown', completed: message.body.completed };
      case 'error':
        return this.error(message.body);
      default:
        return undefined;
    }
  }

  /** Sends a Hello (with `resume` once this worker held a replica) and waits for a Welcome. */
  hello(): Promise<void> {
    const { dataset, limits, name, backend } = this.identity;
    const replica = this.replica;
    this.joining = true;
    const fingerprint = dataset === undefined ? '' : datasetFingerprint(dataset);
    const resume =
      replica === undefined
        ? undefined
        : {
            runId: replica.runId,
            workerId: replica.workerId,
            lastAppliedStep: Math.max(0, replica.appliedStep),
            parameterChecksum: replica.checksum(),
          };
    return this.link.send({
      hello: {
        ...{ protocolVersion: PROTOCOL_VERSION, workerName: name, backend, softwareVersion: 'ddpm-worker 0.1.0' },
        ...{ peerEndpoint: this.peer?.endpoint ?? '', curvePublicKey: this.peer?.curvePublicKey },
        capabilities: {
          hasDataset: dataset !== undefined,
          datasetFingerprint: fingerprint,
          maxMessageBytes: limits.maxMessageBytes,
        },
        resume,
      },
    });
  }

  heartbeat(phase: Phase): Promise<void> {
    const step = Math.max(0, this.replica?.appliedStep ?? 0);
    return this.link.send({ heartbeat: { sentAtUnixMs: Date.now(), echoUnixMs: 0, step, phase } });
  }

  /** A Leave, when this worker has joined (otherwise nothing). */
  async leave(reason: string): Promise<void> {
    if (this.replica === undefined || this.joining) return;
    await this.link.send({ leave: { reason, lastAppliedStep: Math.max(0, this.replica.appliedStep) } });
  }

  private active(): Replica | undefined {
    return this.joining ? undefined : this.replica;
  }
  private welcome(message: Extract<DecodedMessage, { kind: 'welcome' }>): void {
    const { dataset, log } = this.identity;
    const welcome = message.body;
    const replica = Replica.fromWelcome(message, this.replica);
    if (dataset !== undefined && dataset.count !== welcome.datasetSize) {
      throw new Error(
        `This worker's dataset has ${dataset.count} images but the coordinator's has ${welcome.datasetSize}; pass the same --data (and --dataset-limit) to both.`,
      );
    }
    this.replica = replica;
    this.joining = false;
    this.identity.metrics?.setRun({ runId: welcome.runId, preset: welcome.model?.preset || 'unknown' });
    log.info(
      { workerId: welcome.workerId, runId: welcome.runId, step: welcome.step, params: replica.params.length },
      'joined the run',
    );
  }

  private async stepStart(message: Extract<DecodedMessage, { kind: 'stepStart' }>): Promise<void> {
    const replica = this.active();
    if (replica === undefined) return;
    const start = message.body;
    const stale = replica.beginStep(start.step, start.parameterChecksum);
    if (stale !== undefined) return this.sendError(stale, start.step, message.envelope.sequence);
    this.waiting?.();
    this.waiting = undefined;
    const { metrics, log } = this.identity;
    const started = performance.now();
    const indices = Uint32Array.from(start.indices);
    // What this replica was given, for checks that must not trust the coordinator's account (tests, audits).
    log.debug(
      { step: start.step, attempt: start.attempt, epoch: start.epoch, indices: start.indices },
      'step received',
    );
    // The compute below blocks the event loop; this heartbeat tells the coordinator the worker is alive and busy.
    await this.heartbeat(Phase.COMPUTING);
    const timing = { dataMs: 0 };
    const sends: Promise<void>[] = [];
    // Each bucket goes out the moment backpropagation finished it (zeromq.js hands it to its I/O thread at once, even
    // while the compute keeps this thread busy), so the transfer overlaps the rest of the backward pass.
    const onBucket = (bucket: number, loss: number, extra: readonly TensorInput[] = []): void => {
      const totalMs = performance.now() - started;
      const timings = { dataMs: timing.dataMs, computeMs: totalMs - timing.dataMs, totalMs };
      sends.push(this.sendBucket(replica, start.step, indices.length, bucket, loss, timings, extra));
    };
    await this.source.compute({ replica, start: message, indices, onBucket, timing });
    const computeMs = performance.now() - started - timing.dataMs;
    metrics?.observePhase('data', timing.dataMs / 1000);
    metrics?.observePhase('compute', computeMs / 1000);
    const communicationDone = metrics?.startPhase('communication');
    this.steps += 1;
    await Promise.all(sends);
    communicationDone?.();
    metrics?.recordStep({ images: indices.length, durationSeconds: (performance.now() - started) / 1000 });
    this.waiting = metrics?.startPhase('wait');
  }

  /** Sends one bucket of this step's gradient (a zero-copy view of replica.gradient) with its norm and finiteness. */
  private sendBucket(
    replica: Replica,
    step: number,
    samples: number,
    bucket: number,
    loss: number,
    timings: { dataMs: number; computeMs: number; totalMs: number },
    extra: readonly TensorInput[],
  ): Promise<void> {
    const { start, end } = replica.layout.range(bucket);
    const part = replica.gradient.subarray(start, end);
    const gradientNorm = globalNorm(part);
    const nonFinite = (Number.isFinite(gradientNorm) ? 0 : countNonFinite(part)) + (Number.isFinite(loss) ? 0 : 1);
    const parameterChecksum = replica.checksum();
    const allFinite = nonFinite === 0;
    // bfloat16 on the wire when the Welcome asked for it: half the bytes; the coordinator widens and averages in float32.
    const wire = allFinite && replica.gradientWire ? toBfloat16(part, replica.gradientWire.subarray(start, end)) : part;
    return this.link.send(
      {
        gradient: {
          step,
          samples,
          loss,
          gradientNorm,
          allFinite,
          nonFiniteCount: nonFinite,
          timings,
          parameterChecksum,
          bucket,
        },
      },
      allFinite ? [{ name: TENSOR_NAMES.gradient, data: wire, shape: [part.length] }, ...extra] : [],
    );
  }

  private async update(message: Extract<DecodedMessage, { kind: 'update' }>): Promise<void> {
    const replica = this.active();
    if (replica === undefined) return;
    const { log } = this.identity;
    const update = message.body;
    if (update.skipped && update.skipDetail)
      log.warn(
        { step: update.step, detail: update.skipDetail },
        `step ${update.step} was skipped by the coordinator: ${update.skipDetail}`,
      );
    const stale = replica.update(message);
    if (stale === undefined) {
      // What this replica holds after the step: a fresh CRC-32, not the cached one (one extra pass, at debug level only).
      if (log.isLevelEnabled('debug'))
        log.debug(
          {
            step: update.step,
            skipped: update.skipped,
            samples: update.samples,
            checksum: parameterChecksum(replica.params),
          },
          'update applied',
        );
      return;
    }
    log.error(
      { step: update.step, reason: stale.message },
      'cannot apply the update; asking the coordinator for fresh state',
    );
    await this.sendError(stale, update.step, message.envelope.sequence);
  }

  private async error(body: ErrorBody): Promise<Outcome | undefined> {
    const { log } = this.identity;
    const { code, message: text, reason } = body;
    if (body.fatal) throw new Error(`The coordinator refused this worker: ${text}`);
    if (code === ErrorCode.SHUTTING_DOWN) return { kind: 'lost', reason: text };
    // A Welcome with the current parameters follows at the next step boundary; a Hello would only ask for it again.
    // (Older coordinators send no reason: they get the Hello, as before.)
    if (code === ErrorCode.STALE_STATE && reason === ErrorReason.RESYNC_FOLLOWS) {
      log.warn({ code, reason: text }, 'the coordinator resynchronises this replica at the next step boundary');
      return undefined;
    }
    // UNKNOWN_WORKER while joining means our Hello never reached this coordinator (it went to a predecessor that died
    // before answering): say Hello again. The coordinator only sends it in reply to our heartbeats, so this repeats at
    // most once per heartbeat interval.
    if ((code === ErrorCode.STALE_STATE && !this.joining) || code === ErrorCode.UNKNOWN_WORKER) {
      log.warn({ code, reason: text }, 'the coordinator does not know this replica (dropped or restarted); rejoining');
      await this.hello();
      return undefined;
    }
    log.warn({ code, reason: text }, 'coordinator reported an error');
    return undefined;
  }

  /** Reports `error` about `step`, in reply to the message with sequence `inReplyTo`. */
  private async sendError(error: ProtocolError, step: number, inReplyTo: number): Promise<void> {
    await this.link.send({ error: error.toBody(inReplyTo, step) });
  }
}
