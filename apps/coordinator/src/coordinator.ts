import { randomInt, randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { Router } from 'zeromq';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { makeSchedule } from '@ddpm/diffusion-core';
import { datasetFingerprint, splitGlobalBatch, type Dataset } from '@ddpm/data';
import {
  decodeMessage,
  ErrorCode,
  expectOnlyTensors,
  expectTensor,
  isProtocolError,
  nextSequence,
  parameterChecksum,
  PROTOCOL_VERSION,
  ProtocolError,
  TENSOR_NAMES,
  type DecodedMessage,
  type ProtocolLimits,
} from '@ddpm/protocol';
import {
  bucketStarts,
  CHECKPOINT_FORMAT,
  checkDatasetFits,
  DataOrder,
  globalNorm,
  Optimizer,
  RunRecorder,
  type Checkpoint,
  type CheckpointStore,
  type FoundCheckpoint,
  type RunConfig,
  type StepRecord,
  type UpdateResult,
} from '@ddpm/training';
import { flattenWeights, UNet } from '@ddpm/unet';
import { admit } from './admission.ts';
import { BucketBarrier } from './bucket-barrier.ts';
import { checkResumeCompatible } from './resume-check.ts';
import { GradientReducer } from './gradient-reducer.ts';
import { judgeHello } from './hello-verdict.ts';
import { UpdateSnapshots } from './update-snapshots.ts';
import { Membership, type Member } from './membership.ts';
import {
  errorFrames,
  heartbeatFrames,
  shutdownFrames,
  stepStartFrames,
  updateBucketFrames,
  updateFrames,
  welcomeFrames,
  type RunDescription,
  type StepOutcome,
} from './messages.ts';
import { SendQueue } from './send-queue.ts';
import { Serial } from './serial.ts';
import type { StepInProgress } from './step-in-progress.ts';
import { StragglerDetector } from './straggler-detector.ts';

/** Default target size of a gradient bucket (CoordinatorOptions.bucketBytes). */
export const DEFAULT_BUCKET_BYTES = 1 << 18;

/** When the coordinator writes checkpoints. */
export interface CheckpointPolicy {
  readonly store: CheckpointStore;
  /** After every this many steps (0: never by count). */
  readonly everySteps: number;
  /** When this many seconds passed since the last one, checked at step boundaries (0: never by time). */
  readonly everySeconds: number;
}

export interface CoordinatorOptions {
  readonly run: RunConfig;
  /** ZeroMQ endpoint to bind, e.g. tcp://*:5555. */
  readonly bind: string;
  /** Steps wait until this many workers are connected. */
  readonly minWorkers: number;
  /** Further workers are refused (RESOURCE_EXHAUSTED); also bounds the workers waiting to join. */
  readonly maxWorkers: number;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  /** Heartbeat period in both directions, and the silence after which a worker is dropped (milliseconds). */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly checkpoints?: CheckpointPolicy;
  /** The checkpoint to continue from (see CheckpointStore.latest / loadCheckpoint). */
  readonly resume?: FoundCheckpoint;
  /** Straggler reporting: factor over the other workers' median step time, and whether to drop flagged workers. */
  readonly straggler: { readonly factor: number; readonly exclude: boolean };
  /**
   * Target size of a gradient bucket in bytes (Welcome.bucket_starts; default 256 KiB): workers send each bucket as soon
   * as backpropagation finished it, and the coordinator sends each bucket's update as soon as every part arrived.
   * Smaller buckets overlap more of the transfer with the compute; each costs one message per worker and step.
   */
  readonly bucketBytes?: number;
  /** Extra ZeroMQ socket options for the ROUTER (CURVE server keys). */
  readonly socketOptions?: {
    readonly curveServer?: boolean;
    readonly curveSecretKey?: string;
    readonly curvePublicKey?: string;
  };
  readonly onStep?: (record: StepRecord) => void;
  readonly onSampleGrid?: (path: string, step: number) => void;
}

/** What {@link Coordinator.run} reports. */
export interface CoordinatorSummary {
  readonly steps: number;
  readonly wallSeconds: number;
  readonly finalLoss: number;
  readonly skippedSteps: number;
  /** Final weights, when the run reached --steps. */
  readonly weightsPath?: string;
  /** Set when the run was stopped by a signal before --steps: the signal and the checkpoint written. */
  readonly stopped?: { readonly signal: string; readonly checkpoint?: string };
}

/**
 * The coordinator of a data-parallel run: owns the canonical parameters, Adam state, EMA and data order; assigns each
 * active worker a disjoint slice of every global batch; averages their gradients bucket by bucket as they arrive,
 * weighted by samples, and sends each bucket's Adam update back at once (UpdateBucket) while the workers still
 * compute; confirms the step with an Update (or, when clipping voids those proposals, sends the parameters whole);
 * writes checkpoints.
 *
 * Promises:
 * - every replica holds the coordinator's parameters after each step (checked by CRC-32 on both sides);
 * - a worker silent for heartbeatTimeoutMs (dead, stalled, cut off) is dropped: the step in progress completes with the
 *   others, weighted by the samples they actually contributed, and the dropped worker's indices go back to the data
 *   order, so every epoch consumes each sample exactly once (a bucket already reduced with its part keeps it); the
 *   survivors never restart;
 * - a step with a non-finite gradient from any worker is skipped for everyone (Update.skipped), counted and logged;
 * - a malformed, replayed, foreign or unexpected message is answered with an Error and changes nothing;
 * - a checkpoint (parameters, Adam, EMA, step, data order, config) is written every N steps / S seconds, at the end,
 *   and by {@link stop} (SIGTERM/SIGINT); resuming from it continues with bitwise-identical steps.
 * Does not: restart itself (rerun with --resume latest), or check Hello.curve_public_key (CURVE is enforced per
 * connection by the ZAP handler, see zap-handler.ts).
 */
export class Coordinator {
  private readonly router: Router;
  private readonly sends: SendQueue;
  private readonly serial = new Serial();
  private readonly members: Membership;
  private readonly model: UNet;
  private readonly optimizer: Optimizer;
  private readonly reducer: GradientReducer;
  private readonly snapshots: UpdateSnapshots;
  private readonly order: DataOrder;
  private readonly recorder: RunRecorder;
  private readonly description: RunDescription;
  private readonly fingerprint: string;
  private readonly stragglers: StragglerDetector;
  private sequence = 0;
  private step = 0;
  /** parameterChecksum(optimizer.params), refreshed whenever an update changes them (one CRC pass per step). */
  private checksum: number;
  private current: StepInProgress | undefined;
  /** The plan of an update whose buckets the workers already hold and the coordinator has not adopted yet (see {@link settle}). */
  private unsettled: UpdateResult | undefined;
  private finished = false;
  private stopped: { signal: string; checkpoint?: string } | undefined;
  private failure: Error | undefined;
  private skippedSteps = 0;
  private finalLoss = Number.NaN;
  private startedMs = 0;
  private lastCheckpointMs = Date.now();
  private lastTickMs = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: CoordinatorOptions,
    private readonly dataset: Dataset,
  ) {
    const { run, resume } = options;
    this.model = new UNet(checkDatasetFits(run.preset, dataset));
    this.fingerprint = datasetFingerprint(dataset);
    const initial = this.model.initialize(run.seed);
    const flat = flattenWeights(initial);
    tf.dispose(initial);
    let runId: string = randomUUID();
    this.members = new Membership(resume === undefined ? 1 : 1 + randomInt(1, 1 << 20) * 1024);
    if (resume === undefined) {
      this.optimizer = new Optimizer(flat, run.optimizer);
      this.order = DataOrder.start(dataset.count, run.seed);
    } else {
      const { meta, optimizer } = resume.checkpoint;
      checkResumeCompatible(resume.path, meta, run, this.fingerprint, flat.length, optimizer.params.length);
      this.optimizer = new Optimizer(flat, run.optimizer, optimizer);
      this.order = DataOrder.fromState(meta.dataOrder, dataset.count);
      this.step = meta.step;
      this.skippedSteps = meta.skippedSteps;
      this.finalLoss = meta.lastLoss ?? Number.NaN;
      runId = meta.runId;
    }
    const starts = bucketStarts(this.model.parameterSizes(), options.bucketBytes ?? DEFAULT_BUCKET_BYTES);
    this.reducer = new GradientReducer(this.optimizer.params.length, starts);
    this.checksum = parameterChecksum(this.optimizer.params);
    this.snapshots = new UpdateSnapshots(this.optimizer.params.length);
    this.recorder = new RunRecorder(run, this.model, makeSchedule(run.schedule));
    if (resume !== undefined) this.recorder.resumeAt(this.step);
    this.stragglers = new StragglerDetector(options.straggler.factor);
    this.description = {
      runId,
      run,
      model: this.model.config,
      parameterCount: this.optimizer.params.length,
      datasetSize: dataset.count,
      limits: options.limits,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      bucketStarts: starts,
    };
    // The largest message a worker may send is a Gradient: parameter_count float32 plus the envelope. Anything bigger
    // is refused by libzmq before it is allocated (maxMessageSize applies per frame).
    const largestGradient = this.optimizer.params.length * 4 + options.limits.maxEnvelopeBytes;
    // A ROUTER silently drops what exceeds a peer's send high-water mark, so it holds two steps of UpdateBuckets (they
    // are views of shared buffers, not copies) plus the few other messages a step sends; a worker stalled longer than
    // that misses an UpdateBucket, reports STALE_STATE and is resynchronised.
    this.router = new Router({
      linger: 0,
      maxMessageSize: Math.min(options.limits.maxMessageBytes, largestGradient),
      sendHighWaterMark: 64 + 2 * starts.length,
      receiveHighWaterMark: 1000 + 4 * starts.length,
      ...options.socketOptions,
    });
    this.sends = new SendQueue(
      this.router,
      (error) => options.log.warn({ err: error.message }, 'send failed'),
      (bytes) => options.metrics?.addSentBytes(bytes),
    );
  }

  /** The endpoint actually bound (with the real port when binding port 0 or *). */
  get endpoint(): string | null {
    return this.router.lastEndpoint;
  }

  /** The run id workers see (kept across resumes). */
  get runId(): string {
    return this.description.runId;
  }

  /** Binds the socket; call before {@link run}. */
  async bind(): Promise<void> {
    try {
      await this.router.bind(this.options.bind);
    } catch (error) {
      throw new Error(
        `Cannot bind ${this.options.bind}: ${(error as Error).message}. Pass a free --bind endpoint such as tcp://*:5556.`,
      );
    }
    this.options.log.info(
      {
        endpoint: this.endpoint,
        runId: this.description.runId,
        params: this.description.parameterCount,
        step: this.step,
      },
      'coordinator listening',
    );
  }

  /**
   * Serves workers until the last step is done (then shuts them down, writes the final weights and checkpoint) or
   * until {@link stop}. Throws when the coordinator hit an internal error.
   */
  async run(): Promise<CoordinatorSummary> {
    this.startedMs = performance.now();
    const tickMs = Math.max(10, Math.min(this.options.heartbeatIntervalMs, this.options.heartbeatTimeoutMs / 4));
    this.timer = setInterval(() => {
      this.serial.run(() => this.tick(tickMs)).catch((error: unknown) => this.fail(error as Error));
    }, tickMs);
    try {
      if (this.step >= this.options.run.steps) {
        this.options.log.info(
          { step: this.step, steps: this.options.run.steps },
          `the run already has ${this.step} steps (--steps ${this.options.run.steps}); nothing to train. Raise --steps to continue it.`,
        );
        this.finished = true;
      } else {
        this.logWaiting();
        for await (const [identity, ...frames] of this.router) {
          await this.serial.run(() => this.onMessage(identity, frames));
          if (this.finished || this.stopped !== undefined || this.failure !== undefined) break;
        }
      }
    } finally {
      clearInterval(this.timer);
    }
    if (this.failure !== undefined) {
      this.router.close();
      throw this.failure;
    }
    const wallSeconds = (performance.now() - this.startedMs) / 1000;
    const summary = { steps: this.step, wallSeconds, finalLoss: this.finalLoss, skippedSteps: this.skippedSteps };
    if (this.stopped !== undefined) {
      this.closeAfterFlush();
      return { ...summary, stopped: this.stopped };
    }
    this.settle();
    const { weightsPath, grid } = await this.recorder.finish(this.step, this.optimizer.params, this.optimizer.ema, {
      ...summary,
      preset: this.options.run.preset,
    });
    this.options.onSampleGrid?.(grid, this.step);
    this.closeAfterFlush();
    return { ...summary, weightsPath };
  }

  /**
   * Stops the run (SIGTERM/SIGINT): writes a checkpoint of the last step boundary (a step in progress is abandoned;
   * resuming repeats it exactly), tells the workers the coordinator is going away (they reconnect to its successor)
   * and makes {@link run} return. Resolves when that is done; safe to call more than once.
   */
  stop(signal: string): Promise<void> {
    return this.serial.run(async () => {
      if (this.finished || this.stopped !== undefined) return;
      const checkpoint = this.options.checkpoints === undefined ? undefined : this.writeCheckpoint(`stop (${signal})`);
      const message = `the coordinator is stopping (${signal}) at step ${this.step}; keep the worker running: it reconnects when the coordinator is restarted with --resume latest.`;
      for (const member of this.members.all())
        await this.sendTo(member, this.errorFrames(member.id, new ProtocolError(ErrorCode.SHUTTING_DOWN, message)));
      await this.sends.drain();
      this.stopped = { signal, checkpoint };
      this.router.close();
    });
  }

  private fail(error: Error): void {
    this.options.log.error({ err: error.message, stack: error.stack }, 'coordinator failed');
    this.failure ??= error;
    this.router.close();
  }

  /** Closes the socket after giving ZeroMQ a moment to transmit what was handed to it (Shutdown, Errors). */
  private closeAfterFlush(): void {
    if (this.router.closed) return;
    this.router.linger = 2000;
    this.router.close();
  }

  private async onMessage(identity: Buffer, frames: Buffer[]): Promise<void> {
    this.options.metrics?.addReceivedBytes(frames.reduce((sum, frame) => sum + frame.byteLength, identity.byteLength));
    let message: DecodedMessage;
    try {
      message = decodeMessage(frames, this.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.options.log.debug({ code: error.codeName, reason: error.message }, 'rejected a malformed message');
      await this.replyToStranger(identity, error);
      return;
    }
    if (message.kind === 'hello') return this.onHello(identity, message);
    const member = this.members.byIdentity(identity);
    if (member === undefined) {
      if (message.kind === 'error') return;
      const stale = message.envelope.runId === this.description.runId && message.envelope.workerId > 0;
      await this.replyToStranger(
        identity,
        stale
          ? new ProtocolError(
              ErrorCode.STALE_STATE,
              `worker ${message.envelope.workerId} is not (or no longer) part of this run: it was dropped after missing heartbeats, or the coordinator restarted; send a Hello with resume to rejoin.`,
            )
          : new ProtocolError(ErrorCode.UNKNOWN_WORKER, 'this connection has not registered; send Hello first.'),
      );
      return;
    }
    const admission = admit(member, message, this.description.runId);
    if (!admission.accepted) {
      if (message.kind !== 'error') await this.sendTo(member, this.errorFrames(member.id, admission.error));
      return;
    }
    if (admission.lost > 0)
      this.options.log.warn(
        { worker: member.name, sequence: member.lastSequence, lost: admission.lost },
        'sequence gap: messages from this worker were lost',
      );
    member.lastSeenMs = Date.now();
    switch (message.kind) {
      case 'gradient':
        return this.onGradient(member, message);
      case 'heartbeat':
        return;
      case 'leave':
        this.options.log.info(
          { worker: member.name, reason: message.body.reason },
          `worker ${member.name} left (${message.body.reason || 'no reason given'})`,
        );
        return this.dropMember(member, 'left');
      case 'error':
        if (message.body.code === ErrorCode.STALE_STATE) {
          this.options.log.warn(
            { worker: member.name, reason: message.body.message },
            `worker ${member.name} reports stale parameters; it gets the current state at the next step boundary`,
          );
          return this.resynchronise(member);
        }
        this.options.log.warn(
          { worker: member.name, code: message.body.code, reason: message.body.message },
          'worker reported an error',
        );
        if (message.body.fatal) return this.dropMember(member, 'error');
        return;
      default:
        await this.sendTo(
          member,
          this.errorFrames(
            member.id,
            new ProtocolError(
              ErrorCode.UNEXPECTED_MESSAGE,
              `a coordinator does not accept ${message.kind} messages from workers.`,
            ),
          ),
        );
    }
  }

  private async onHello(identity: Buffer, message: Extract<DecodedMessage, { kind: 'hello' }>): Promise<void> {
    const context = {
      runId: this.description.runId,
      fingerprint: this.fingerprint,
      maxWorkers: this.options.maxWorkers,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      members: this.members,
      nowMs: Date.now(),
    };
    const verdict = judgeHello(message.body, identity, context);
    if (verdict.kind === 'refuse') return this.replyToStranger(identity, verdict.error);
    if (verdict.kind === 'resynchronise') {
      verdict.member.lastSeenMs = Date.now();
      verdict.member.lastSequence = message.envelope.sequence;
      if (verdict.member.state === 'active') await this.resynchronise(verdict.member);
      return;
    }
    if (verdict.replaces !== undefined) {
      this.options.log.info(
        { worker: verdict.replaces.name },
        `worker ${verdict.replaces.name} reconnected on a new connection; replacing its old one`,
      );
      await this.dropMember(verdict.replaces, 'disconnected');
    }
    const { name, hasDataset } = verdict;
    const member = this.members.add(
      identity,
      { name, backend: message.body.backend, hasDataset, sequence: message.envelope.sequence },
      Date.now(),
    );
    this.options.log.info(
      { worker: member.name, id: member.id, backend: member.backend, hasDataset, rejoin: message.body.resume != null },
      `worker ${member.name} registered (id ${member.id}); it joins at the next step boundary`,
    );
    this.options.metrics?.workerJoined(member.name);
    if (this.current === undefined) {
      await this.admitPending();
      await this.startStep();
    }
  }

  /** One bucket of a worker's gradient: checked, added to the bucket's sum; completes the bucket, then the step. */
  private async onGradient(member: Member, message: Extract<DecodedMessage, { kind: 'gradient' }>): Promise<void> {
    const body = message.body;
    const current = this.current;
    if (current === undefined || body.step !== current.step) {
      await this.sendTo(
        member,
        this.errorFrames(
          member.id,
          new ProtocolError(
            ErrorCode.WRONG_STEP,
            `gradient for step ${body.step} but step ${current?.step ?? 'none'} is in progress; it was dropped.`,
          ),
        ),
      );
      return;
    }
    const refuse = (reason: string): Promise<void> =>
      this.sendTo(
        member,
        this.errorFrames(member.id, new ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, `${reason}; it was dropped.`)),
      );
    const assigned = current.awaited.has(member.id) ? current.assigned.get(member.id) : undefined;
    if (assigned === undefined) return refuse(`no gradient is awaited from this worker for step ${body.step}`);
    if (body.samples !== assigned.length)
      return refuse(`the gradient covers ${body.samples} samples but ${assigned.length} were assigned`);
    if (body.bucket >= this.reducer.buckets)
      return refuse(`bucket ${body.bucket} does not exist (Welcome.bucket_starts has ${this.reducer.buckets})`);
    if (current.buckets.has(member.id, body.bucket))
      return refuse(`bucket ${body.bucket} of step ${body.step} arrived twice`);
    this.snapshots.confirm(member.id);
    this.settle();
    if (body.parameterChecksum >>> 0 !== current.checksum >>> 0) {
      await this.sendTo(
        member,
        this.errorFrames(
          member.id,
          new ProtocolError(
            ErrorCode.STALE_STATE,
            `the gradient of step ${body.step} was computed on other parameters than the step's; it was dropped and the worker is resynchronised.`,
          ),
        ),
      );
      await this.resynchronise(member);
      return;
    }
    const { start, end } = this.reducer.range(body.bucket);
    let part: Float32Array | undefined;
    try {
      expectOnlyTensors(message.tensors, body.allFinite ? [TENSOR_NAMES.gradient] : []);
      if (body.allFinite && Number.isFinite(body.loss))
        part = expectTensor(message.tensors, TENSOR_NAMES.gradient, [end - start], 'float32');
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      await this.sendTo(member, this.errorFrames(member.id, error));
      return;
    }
    // add() checks finiteness while it adds; a worker whose gradient is non-finite skips the step for everyone.
    if (
      (part === undefined || !this.reducer.add(body.bucket, part, body.samples)) &&
      !current.nonFinite.includes(member.name)
    ) {
      current.nonFinite.push(member.name);
      this.options.log.warn(
        { worker: member.name, step: body.step, bucket: body.bucket, nonFinite: body.nonFiniteCount, loss: body.loss },
        `worker ${member.name} sent a non-finite gradient or loss at step ${body.step}; the step is skipped for every worker`,
      );
    }
    current.buckets.record(member.id, body.bucket);
    await this.reduceCompleteBuckets(current);
    if (current.buckets.partsFrom(member.id) < current.buckets.buckets) return;
    // Every bucket of this worker arrived.
    if (!current.nonFinite.includes(member.name)) {
      current.contributors += 1;
      current.lossSum += body.loss * body.samples;
      current.samples += body.samples;
    }
    current.awaited.delete(member.id);
    current.consumed.push(...assigned);
    current.lastArrivalMs = performance.now();
    this.stragglers.record(member.id, current.lastArrivalMs - (current.sentMs.get(member.id) ?? current.startedMs));
    if (current.awaited.size === 0) await this.completeStep(current);
  }

  /**
   * Takes the mean of every bucket that every expected worker has now sent, proposes the bucket's update (Adam as if
   * the step needs no clipping) and sends it to every worker as an UpdateBucket, while the others are still computing.
   * Not when the step will be skipped, nor for a bucket nobody contributed to (all its workers were lost), nor once the
   * buckets reduced so far already put the gradient norm above --clip (early in training most steps are clipped: the
   * proposals would be void, and the coordinator's Adam would only take CPU from workers sharing its host).
   */
  private async reduceCompleteBuckets(current: StepInProgress): Promise<void> {
    this.settle(); // proposals start from the previous update
    const clip = this.options.run.optimizer.clip;
    for (const bucket of current.buckets.takeComplete()) {
      if (current.nonFinite.length > 0 || this.reducer.samplesOf(bucket) === 0) continue;
      const mean = this.reducer.mean(bucket);
      current.normSquared += globalNorm(mean) ** 2;
      // The margin keeps rounding (bucket sums against the one sequential sum of the final norm) on the safe side; a
      // step that ends unclipped without every proposal is applied in place and sent whole, which is always correct.
      if (current.normSquared > clip * clip * (1 + 1e-6)) continue;
      current.proposed += 1;
      const proposed = this.optimizer.propose(mean, this.reducer.range(bucket).start, current.step);
      const crc = parameterChecksum(proposed);
      for (const member of this.members.active()) {
        await this.sendTo(
          member,
          updateBucketFrames(this.description, member.id, this.nextSeq(), current.step, bucket, proposed, crc),
        );
      }
    }
  }

  /** The worker's part of the step in progress, if any, goes back to the data order; completes the step if it was the last awaited. */
  private async releaseAssignment(member: Member, why: string): Promise<void> {
    const current = this.current;
    if (current === undefined || !current.awaited.has(member.id)) return;
    current.awaited.delete(member.id);
    current.buckets.forget(member.id);
    const indices = current.assigned.get(member.id) ?? new Uint32Array(0);
    this.order.giveBack(current.epoch, indices);
    const parts = current.buckets.partsFrom(member.id);
    const kept =
      parts === 0 ? '' : ` (the ${parts} of ${current.buckets.buckets} gradient buckets it sent stay in their means)`;
    this.options.log.warn(
      { worker: member.name, step: current.step, samples: indices.length, parts },
      `step ${current.step} continues without ${member.name} (${why}); its ${indices.length} samples go back to the data order${kept}`,
    );
    await this.reduceCompleteBuckets(current);
    if (current.awaited.size === 0) await this.completeStep(current);
  }

  private async dropMember(member: Member, reason: 'left' | 'error' | 'disconnected' | 'timeout'): Promise<void> {
    this.members.remove(member.id);
    this.snapshots.abandon(member.id);
    this.stragglers.forget(member.id);
    if (reason === 'left') this.options.metrics?.workerLeft(member.name);
    else this.options.metrics?.workerFailed(member.name, reason);
    this.options.metrics?.setActiveWorkers(this.members.active().length);
    await this.releaseAssignment(member, reason);
    if (this.current === undefined && !this.finished) this.logWaiting();
  }

  /** A worker whose parameters are stale gets the current state (Welcome, same id) at the next step boundary. */
  private async resynchronise(member: Member): Promise<void> {
    member.state = 'pending';
    this.snapshots.abandon(member.id);
    this.options.metrics?.setActiveWorkers(this.members.active().length);
    await this.releaseAssignment(member, 'stale parameters');
    if (this.current === undefined && !this.finished) {
      await this.admitPending();
      await this.startStep();
    }
  }

  /** Sends every pending worker the current state; they take part from the next step on. */
  private async admitPending(): Promise<void> {
    const pending = this.members.pending();
    if (pending.length === 0) return;
    this.settle();
    const params = this.optimizer.params.slice();
    for (const member of pending) {
      member.state = 'active';
      await this.sendTo(
        member,
        welcomeFrames(this.description, member.id, this.nextSeq(), this.step, this.checksum, params),
      );
    }
    this.options.metrics?.setActiveWorkers(this.members.active().length);
  }

  /**
   * Sends the next step's StepStarts. With `checksumLater` they carry no parameter checksum (0): the previous update is
   * still unsettled, and {@link settle} sets current.checksum before any Gradient is read.
   */
  private async startStep(checksumLater = false): Promise<void> {
    if (this.finished || this.stopped !== undefined) return;
    const active = this.members.active();
    if (active.length < this.options.minWorkers) {
      this.current = undefined;
      this.logWaiting();
      return;
    }
    const orderBefore = this.order.state();
    const { epoch, indices } = this.order.next(this.options.run.batch * active.length);
    const slices = splitGlobalBatch(indices, active.length);
    const checksum = checksumLater ? 0 : this.checksum;
    const startedMs = performance.now();
    const current: StepInProgress = {
      step: this.step,
      epoch,
      startedMs,
      checksum,
      orderBefore,
      assigned: new Map(),
      awaited: new Set(),
      sentMs: new Map(),
      nonFinite: [],
      consumed: [],
      buckets: new BucketBarrier(this.description.bucketStarts.length),
      normSquared: 0,
      proposed: 0,
      lastArrivalMs: startedMs,
      lossSum: 0,
      samples: 0,
      contributors: 0,
    };
    this.current = current;
    for (const [shardIndex, member] of active.entries()) {
      const slice = slices[shardIndex];
      if (slice.length === 0) continue;
      current.assigned.set(member.id, slice);
      current.awaited.add(member.id);
      current.buckets.expect(member.id);
      current.sentMs.set(member.id, performance.now());
      const assignment = {
        step: this.step,
        epoch,
        indices: slice,
        shardIndex,
        shardCount: active.length,
        globalBatchSize: indices.length,
        checksum,
      };
      await this.sendTo(
        member,
        stepStartFrames(
          this.description,
          member.id,
          this.nextSeq(),
          assignment,
          member.hasDataset ? undefined : this.dataset,
        ),
      );
    }
  }

  /** Finishes a step whose awaited gradients all arrived or whose workers were dropped; repeats it if nothing arrived. */
  private async completeStep(current: StepInProgress): Promise<void> {
    if (this.current !== current) return;
    if (current.contributors === 0 && current.nonFinite.length === 0) {
      this.current = undefined;
      this.reducer.reset();
      this.options.log.warn(
        { step: current.step },
        `step ${current.step} lost every worker before any gradient arrived; it runs again when workers are available`,
      );
      await this.admitPending();
      await this.startStep();
      return;
    }
    await this.finishStep(current);
  }

  private async finishStep(current: StepInProgress): Promise<void> {
    this.settle();
    this.current = undefined;
    const metrics = this.options.metrics;
    metrics?.observePhase('wait', (current.lastArrivalMs - current.startedMs) / 1000);
    const optimizerDone = metrics?.startPhase('optimizer');
    const mean = current.nonFinite.length > 0 || current.contributors === 0 ? undefined : this.reducer.takeMean();
    if (mean === undefined) this.reducer.reset();
    const plan = mean === undefined ? undefined : this.optimizer.plan(mean, current.step);
    const skipped = plan === undefined || plan.skipped;
    const skipDetail =
      current.nonFinite.length > 0
        ? `non-finite gradient from ${current.nonFinite.join(', ')}`
        : skipped
          ? 'non-finite averaged gradient'
          : '';
    if (skipped) {
      metrics?.recordSkippedStep('non_finite_gradient');
      this.skippedSteps += 1;
      this.options.log.warn(
        { step: current.step, workers: current.nonFinite },
        `step ${current.step} skipped for every worker: ${skipDetail}`,
      );
    }
    const loss = current.samples > 0 ? current.lossSum / current.samples : Number.NaN;
    if (!skipped) this.finalLoss = loss;
    const outcome: StepOutcome = {
      step: current.step,
      epoch: current.epoch,
      skipped,
      skipDetail,
      learningRate: plan?.lr ?? 0,
      loss,
      gradientNorm: plan?.gradientNorm ?? Number.NaN,
      samples: current.samples,
      contributors: current.contributors,
    };
    const active = this.members.active();
    const total = this.options.run.steps;
    const next = current.step + 1;
    // Unclipped (the common case once training settled), the workers already hold the new parameters as UpdateBuckets:
    // the Update only confirms them. When nothing before the next step needs the new parameters on the coordinator (no
    // sample grid, checkpoint or newcomer is due, the run goes on), the next StepStart follows at once, without a
    // checksum; the coordinator adopts the update itself before it reads the next Gradient (settle).
    const adoptable =
      plan !== undefined && !plan.skipped && plan.clipScale === 1 && current.proposed === this.reducer.buckets;
    const early =
      adoptable &&
      next < total &&
      this.members.pending().length === 0 &&
      !this.recorder.gridDue(next, total) &&
      !this.checkpointDue(next, total);
    const communicationDone = metrics?.startPhase('communication');
    if (adoptable) {
      for (const member of active)
        await this.sendTo(member, updateFrames(this.description, member.id, this.nextSeq(), outcome, 0));
      this.unsettled = plan;
    } else if (plan !== undefined && mean !== undefined && !plan.skipped) {
      // Clipped: the proposal is void; the update is applied in place and sent whole.
      this.optimizer.commit(mean, plan);
      this.checksum = parameterChecksum(this.optimizer.params);
    }
    // The step's wall time ends when its update left.
    const seconds = (performance.now() - current.startedMs) / 1000;
    this.step = next;
    if (early) await this.startStep(true);
    else this.settle();
    optimizerDone?.();
    // Workers get the new parameters whole when the step was clipped. The frames are zero-copy views: they get a
    // snapshot, as the next step updates optimizer.params in place.
    const receivers = adoptable ? [] : active;
    const params =
      skipped || adoptable
        ? undefined
        : this.snapshots.take(
            this.optimizer.params,
            receivers.map((member) => member.id),
          );
    for (const member of receivers)
      await this.sendTo(
        member,
        updateFrames(this.description, member.id, this.nextSeq(), outcome, this.checksum, params),
      );
    communicationDone?.();
    this.options.log.debug({ step: this.step, epoch: current.epoch, consumed: current.consumed }, 'step consumed');
    if (!skipped)
      metrics?.recordStep({
        step: this.step,
        epoch: current.epoch,
        loss,
        images: current.samples,
        durationSeconds: seconds,
        learningRate: outcome.learningRate,
        gradientGlobalNorm: outcome.gradientNorm,
      });
    const record: StepRecord = {
      step: this.step,
      loss,
      imgs_per_s: current.samples / seconds,
      epoch: current.epoch,
      lr: outcome.learningRate,
      grad_norm: outcome.gradientNorm,
      skipped,
      step_seconds: seconds,
      workers: current.contributors + current.nonFinite.length,
      samples: current.consumed.length,
    };
    this.recorder.recordStep(record);
    this.options.onStep?.(record);
    await this.reportStragglers([...current.assigned.keys()]);
    if (early) return;
    if (this.recorder.gridDue(this.step, total)) {
      this.options.onSampleGrid?.(await this.recorder.writeGrid(this.step, this.optimizer.ema), this.step);
      this.members.forgive(Date.now());
    }
    if (this.checkpointDue(this.step, total)) this.writeCheckpoint(this.step >= total ? 'end of run' : 'schedule');
    if (this.step >= total) return this.shutdown('training finished', true);
    await this.admitPending();
    await this.startStep();
  }

  private async reportStragglers(ids: number[]): Promise<void> {
    const { factor, exclude } = this.options.straggler;
    for (const verdict of this.stragglers.evaluate(ids)) {
      const member = this.members.get(verdict.id);
      if (member === undefined || !verdict.changed) continue;
      this.options.metrics?.setStraggler(member.name, verdict.straggler);
      const figures = {
        worker: member.name,
        stepMs: Math.round(verdict.ms),
        othersMedianMs: Math.round(verdict.othersMs),
        factor,
      };
      if (!verdict.straggler) {
        this.options.log.info(figures, `worker ${member.name} is no longer a straggler`);
        continue;
      }
      this.options.log.warn(
        figures,
        `worker ${member.name} is a straggler: ${figures.stepMs} ms per step against a median of ${figures.othersMedianMs} ms for the others (--straggler-factor ${factor})`,
      );
      if (exclude && this.members.active().length - 1 >= this.options.minWorkers) {
        await this.sendTo(
          member,
          this.errorFrames(
            member.id,
            new ProtocolError(
              ErrorCode.TIMEOUT,
              `excluded as a straggler: ${figures.stepMs} ms per step against ${figures.othersMedianMs} ms for the others (coordinator flags --straggler-factor ${factor} --exclude-stragglers); run it on a faster host or with a smaller load.`,
              { fatal: true },
            ),
          ),
        );
        this.options.log.warn({ worker: member.name }, `worker ${member.name} excluded (--exclude-stragglers)`);
        await this.dropMember(member, 'error');
      }
    }
  }

  /**
   * Adopts the update whose buckets the workers already hold (parameters, Adam state, EMA) and sets the checksum the
   * step in progress is checked against. Called before anything reads them: the next proposal or Gradient, a Welcome, a
   * checkpoint, the end of the run. Deferring it that far keeps the EMA and the checksum off the critical path.
   */
  private settle(): void {
    const unsettled = this.unsettled;
    if (unsettled === undefined) return;
    this.unsettled = undefined;
    this.optimizer.adopt(unsettled);
    this.checksum = parameterChecksum(this.optimizer.params);
    if (this.current !== undefined) this.current.checksum = this.checksum;
  }

  /** Whether a checkpoint is due once `step` steps are done. */
  private checkpointDue(step: number, total: number): boolean {
    const policy = this.options.checkpoints;
    if (policy === undefined) return false;
    if (step >= total) return true;
    if (policy.everySteps > 0 && step % policy.everySteps === 0) return true;
    return policy.everySeconds > 0 && Date.now() - this.lastCheckpointMs >= policy.everySeconds * 1000;
  }

  /** Writes a checkpoint of the last step boundary; returns its path. Precondition: a checkpoint policy is set. */
  private writeCheckpoint(why: string): string | undefined {
    const policy = this.options.checkpoints;
    if (policy === undefined) return undefined;
    this.settle();
    const checkpoint: Checkpoint = {
      meta: {
        kind: 'checkpoint',
        format: CHECKPOINT_FORMAT,
        protocolVersion: PROTOCOL_VERSION,
        runId: this.description.runId,
        step: this.step,
        dataOrder: this.current?.orderBefore ?? this.order.state(),
        rng: {},
        run: this.options.run,
        model: this.model.config,
        datasetFingerprint: this.fingerprint,
        adamCount: 0,
        skippedSteps: this.skippedSteps,
        lastLoss: Number.isFinite(this.finalLoss) ? this.finalLoss : null,
        writtenAt: new Date().toISOString(),
      },
      optimizer: this.optimizer.state(),
    };
    const { path, seconds } = policy.store.write(checkpoint);
    this.lastCheckpointMs = Date.now();
    this.members.forgive(this.lastCheckpointMs);
    this.options.metrics?.recordCheckpoint({ step: this.step, durationSeconds: seconds });
    this.options.log.info(
      { step: this.step, path, seconds: Number(seconds.toFixed(3)), why },
      `checkpoint of step ${this.step} written (${why})`,
    );
    return path;
  }

  /** Heartbeats: drops workers silent for longer than the timeout and sends a Heartbeat to those not sent anything lately. */
  private async tick(tickMs: number): Promise<void> {
    if (this.finished || this.stopped !== undefined) return;
    const now = Date.now();
    // A tick that fires late means this process was blocked; what workers sent meanwhile may still sit in ZeroMQ.
    if (now - this.lastTickMs > 2 * tickMs + 50) this.members.forgive(now);
    this.lastTickMs = now;
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.options;
    for (const member of this.members.all()) {
      const silentMs = now - member.lastSeenMs;
      if (silentMs > heartbeatTimeoutMs) {
        this.options.log.warn(
          { worker: member.name, silentMs },
          `worker ${member.name} silent for ${(silentMs / 1000).toFixed(1)} s (--heartbeat-timeout ${heartbeatTimeoutMs / 1000} s); dropped`,
        );
        await this.dropMember(member, 'timeout');
      }
    }
    for (const member of this.members.all()) {
      if (now - member.lastSentMs >= heartbeatIntervalMs)
        await this.sendTo(
          member,
          heartbeatFrames(this.description, member.id, this.nextSeq(), this.step, this.current !== undefined),
        );
    }
  }

  private async shutdown(reason: string, completed: boolean): Promise<void> {
    for (const member of this.members.all())
      await this.sendTo(
        member,
        shutdownFrames(this.description, member.id, this.nextSeq(), reason, this.step, completed),
      );
    await this.sends.drain();
    this.finished = true;
  }

  private sendTo(member: Member, frames: Buffer[]): Promise<void> {
    member.lastSentMs = Date.now();
    return this.sends.send(member.identity, frames);
  }

  /** Answers a peer that is not a registered worker; skipped when the send queue is long (a flood must not grow memory). */
  private async replyToStranger(identity: Buffer, error: ProtocolError): Promise<void> {
    if (this.sends.depth > 256) return;
    await this.sends.send(identity, this.errorFrames(0, error));
  }

  private errorFrames(workerId: number, error: ProtocolError): Buffer[] {
    return errorFrames(this.description, workerId, this.nextSeq(), error);
  }

  private logWaiting(): void {
    const connected = this.members.active().length + this.members.pending().length;
    if (connected < this.options.minWorkers) {
      this.options.log.info(
        `waiting for workers: ${connected}/${this.options.minWorkers} connected (--min-workers ${this.options.minWorkers}); start workers with: ddpm worker --connect tcp://HOST:PORT`,
      );
    }
  }

  private nextSeq(): number {
    this.sequence = nextSequence(this.sequence);
    return this.sequence;
  }
}
