import { randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { Router } from 'zeromq';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { makeSchedule } from '@ddpm/diffusion-core';
import { datasetFingerprint, EpochCursor, splitGlobalBatch, type Dataset } from '@ddpm/data';
import {
  countNonFinite, decodeMessage, encodeMessage, ErrorCode, expectTensor, isProtocolError, nextSequence, parameterChecksum,
  ProtocolError, SkipReason, TENSOR_NAMES, UpdateKind, type DecodedMessage, type OutgoingEnvelope, type ProtocolLimits,
} from '@ddpm/protocol';
import { checkDatasetFits, Optimizer, RunRecorder, type RunConfig, type StepRecord } from '@ddpm/training';
import { flattenWeights, UNet } from '@ddpm/unet';
import { GradientReducer } from './gradient-reducer.ts';
import { Membership, type Member } from './membership.ts';
import { stepStartFrames, welcomeFrames, type RunDescription } from './messages.ts';
import { SendQueue } from './send-queue.ts';

export interface CoordinatorOptions {
  readonly run: RunConfig;
  /** ZeroMQ endpoint to bind, e.g. tcp://*:5555. */
  readonly bind: string;
  /** Steps wait until this many workers are connected. */
  readonly minWorkers: number;
  /** Further workers are refused (RESOURCE_EXHAUSTED). */
  readonly maxWorkers: number;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  readonly onStep?: (record: StepRecord) => void;
  readonly onSampleGrid?: (path: string, step: number) => void;
}

interface StepInProgress {
  readonly step: number;
  readonly epoch: number;
  readonly startedMs: number;
  /** Worker id → samples assigned, for the workers whose gradient is still awaited. */
  readonly awaited: Map<number, number>;
  readonly nonFinite: string[];
  /** When the last awaited gradient arrived (performance.now()). */
  lastArrivalMs: number;
  lossSum: number;
  samples: number;
}

/**
 * The coordinator of a data-parallel run: owns the canonical parameters, Adam state, EMA and data order;
 * assigns each active worker a disjoint slice of every global batch; averages their gradients weighted by samples;
 * applies the update and sends every worker the new parameters with their checksum.
 *
 * Promises: every replica holds the coordinator's parameters after each step (workers verify the CRC-32); a step with
 * a non-finite gradient from any worker is skipped for everyone; a malformed or unexpected message is answered with an
 * Error and changes nothing. Data order: each step takes the next `batch × workers` indices of the epoch's seeded
 * permutation and splits them into contiguous slices by worker id, so over an epoch the workers' shards are disjoint
 * and cover the dataset (the last step of an epoch may be short; nothing is repeated or dropped).
 * Does not (yet): checkpoint, detect dead workers by heartbeat, or authenticate peers.
 */
export class Coordinator {
  private readonly router: Router;
  private readonly sends: SendQueue;
  private readonly members = new Membership();
  private readonly model: UNet;
  private readonly optimizer: Optimizer;
  private readonly reducer: GradientReducer;
  private readonly cursor: EpochCursor;
  private readonly recorder: RunRecorder;
  private readonly description: RunDescription;
  private readonly fingerprint: string;
  private sequence = 0;
  private step = 0;
  private current: StepInProgress | undefined;
  private finished = false;
  private skippedSteps = 0;
  private finalLoss = Number.NaN;
  private startedMs = 0;

  constructor(private readonly options: CoordinatorOptions, private readonly dataset: Dataset) {
    const { run } = options;
    this.model = new UNet(checkDatasetFits(run.preset, dataset));
    const initial = this.model.initialize(run.seed);
    this.optimizer = new Optimizer(flattenWeights(initial), run.optimizer);
    tf.dispose(initial);
    this.reducer = new GradientReducer(this.optimizer.params.length);
    this.cursor = new EpochCursor(dataset.count, run.seed);
    this.recorder = new RunRecorder(run, this.model, makeSchedule(run.schedule));
    this.fingerprint = datasetFingerprint(dataset);
    this.description = {
      runId: randomUUID(), run, model: this.model.config, parameterCount: this.optimizer.params.length, datasetSize: dataset.count,
      limits: options.limits, heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10000,
    };
    this.router = new Router({ linger: 0, maxMessageSize: options.limits.maxMessageBytes });
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

  /** Binds the socket; call before {@link run}. */
  async bind(): Promise<void> {
    try {
      await this.router.bind(this.options.bind);
    } catch (error) {
      throw new Error(`Cannot bind ${this.options.bind}: ${(error as Error).message}. Pass a free --bind endpoint such as tcp://*:5556.`);
    }
    this.options.log.info({ endpoint: this.endpoint, runId: this.description.runId, params: this.description.parameterCount }, 'coordinator listening');
  }

  /** Serves workers until the last step is done, then shuts them down and finishes the run directory. */
  async run(): Promise<{ steps: number; wallSeconds: number; finalLoss: number; skippedSteps: number; weightsPath: string }> {
    this.startedMs = performance.now();
    this.logWaiting();
    for await (const [identity, ...frames] of this.router) {
      await this.onMessage(identity, frames);
      if (this.finished) break;
    }
    const wallSeconds = (performance.now() - this.startedMs) / 1000;
    const summary = { steps: this.step, wallSeconds, finalLoss: this.finalLoss, skippedSteps: this.skippedSteps };
    const { weightsPath, grid } = await this.recorder.finish(this.step, this.optimizer.params, this.optimizer.ema, { ...summary, preset: this.options.run.preset });
    this.options.onSampleGrid?.(grid, this.step);
    this.router.close();
    return { ...summary, weightsPath };
  }

  private async onMessage(identity: Buffer, frames: Buffer[]): Promise<void> {
    this.options.metrics?.addReceivedBytes(frames.reduce((sum, frame) => sum + frame.byteLength, identity.byteLength));
    let message: DecodedMessage;
    try {
      message = decodeMessage(frames, this.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.options.log.warn({ code: error.codeName, reason: error.message }, 'rejected a malformed message');
      await this.reply(identity, 0, error);
      return;
    }
    if (message.kind === 'hello') return this.onHello(identity, message);
    const member = this.members.byIdentity(identity);
    if (member === undefined || message.envelope.workerId !== member.id) {
      if (message.kind !== 'error') await this.reply(identity, 0, new ProtocolError(ErrorCode.UNKNOWN_WORKER, 'this connection has not registered (or claims another worker id); send Hello first.', { fatal: true }));
      return;
    }
    member.lastSeenMs = Date.now();
    switch (message.kind) {
      case 'gradient':
        return this.onGradient(member, message);
      case 'leave':
        this.options.log.info({ worker: member.name, reason: message.body.reason }, 'worker left');
        return this.dropMember(member, 'left');
      case 'error':
        this.options.log.warn({ worker: member.name, code: message.body.code, reason: message.body.message }, 'worker reported an error');
        if (message.body.fatal) return this.dropMember(member, 'error');
        return;
      case 'heartbeat':
        return;
      default:
        await this.reply(identity, member.id, new ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, `a coordinator does not accept ${message.kind} messages from workers.`));
    }
  }

  private async onHello(identity: Buffer, message: Extract<DecodedMessage, { kind: 'hello' }>): Promise<void> {
    const hello = message.body;
    const previous = this.members.byIdentity(identity);
    if (previous !== undefined) await this.dropMember(previous, 'disconnected');
    if (this.members.size >= this.options.maxWorkers) {
      await this.reply(identity, 0, new ProtocolError(ErrorCode.RESOURCE_EXHAUSTED, `the job already has --max-workers ${this.options.maxWorkers} workers; raise it on the coordinator or stop this worker.`, { fatal: true }));
      return;
    }
    const hasDataset = hello.capabilities?.hasDataset === true;
    if (hasDataset && hello.capabilities?.datasetFingerprint !== this.fingerprint) {
      await this.reply(identity, 0, new ProtocolError(ErrorCode.DATASET_MISMATCH, `the worker's dataset (${hello.capabilities?.datasetFingerprint}) differs from the coordinator's (${this.fingerprint}); point --data at the same files, or use --data stream to receive samples from the coordinator.`, { fatal: true }));
      return;
    }
    const member = this.members.add(identity, hello.workerName || `worker-${this.members.size + 1}`, hello.backend, hasDataset, Date.now());
    this.options.log.info({ worker: member.name, id: member.id, backend: member.backend, hasDataset }, 'worker registered');
    this.options.metrics?.workerJoined(member.name);
    if (this.current === undefined) {
      await this.admitPending();
      await this.startStep();
    }
  }

  private async onGradient(member: Member, message: Extract<DecodedMessage, { kind: 'gradient' }>): Promise<void> {
    const body = message.body;
    const current = this.current;
    if (current === undefined || body.step !== current.step) {
      await this.reply(member.identity, member.id, new ProtocolError(ErrorCode.WRONG_STEP, `gradient for step ${body.step} but step ${current?.step ?? 'none'} is in progress; it was dropped.`));
      return;
    }
    const assigned = current.awaited.get(member.id);
    if (assigned === undefined || body.samples !== assigned) {
      await this.reply(member.identity, member.id, new ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, assigned === undefined ? `no gradient is awaited from this worker for step ${body.step}.` : `the gradient covers ${body.samples} samples but ${assigned} were assigned.`));
      return;
    }
    try {
      if (!body.allFinite || !Number.isFinite(body.loss)) {
        current.nonFinite.push(member.name);
      } else {
        const gradient = expectTensor(message.tensors, TENSOR_NAMES.gradient, [this.description.parameterCount], 'float32');
        if (countNonFinite(gradient) > 0) current.nonFinite.push(member.name);
        else this.reducer.add(gradient, body.samples);
      }
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      await this.reply(member.identity, member.id, error);
      return;
    }
    current.awaited.delete(member.id);
    current.lastArrivalMs = performance.now();
    current.lossSum += body.loss * body.samples;
    current.samples += body.samples;
    if (current.awaited.size === 0) await this.finishStep(current);
  }

  private async dropMember(member: Member, reason: 'left' | 'error' | 'disconnected' | 'timeout'): Promise<void> {
    this.members.remove(member.id);
    if (reason === 'left') this.options.metrics?.workerLeft(member.name);
    else this.options.metrics?.workerFailed(member.name, reason);
    this.options.metrics?.setActiveWorkers(this.members.active().length);
    const current = this.current;
    if (current !== undefined && current.awaited.delete(member.id) && current.awaited.size === 0) await this.finishStep(current);
  }

  /** Sends every pending worker the current state; they take part from the next step on. */
  private async admitPending(): Promise<void> {
    const pending = this.members.pending();
    if (pending.length === 0) return;
    const params = Float32Array.from(this.optimizer.params);
    const checksum = parameterChecksum(params);
    for (const member of pending) {
      member.state = 'active';
      await this.sends.send(member.identity, welcomeFrames(this.description, member.id, this.nextSeq(), this.step, checksum, params));
    }
    this.options.metrics?.setActiveWorkers(this.members.active().length);
  }

  private async startStep(): Promise<void> {
    const active = this.members.active();
    if (active.length < this.options.minWorkers) {
      this.current = undefined;
      this.logWaiting();
      return;
    }
    const { epoch, indices } = this.cursor.next(this.options.run.batch * active.length);
    const slices = splitGlobalBatch(indices, active.length);
    const checksum = parameterChecksum(this.optimizer.params);
    const startedMs = performance.now();
    const current: StepInProgress = { step: this.step, epoch, startedMs, lastArrivalMs: startedMs, awaited: new Map(), nonFinite: [], lossSum: 0, samples: 0 };
    this.current = current;
    for (const [shardIndex, member] of active.entries()) {
      const slice = slices[shardIndex];
      if (slice.length === 0) continue;
      current.awaited.set(member.id, slice.length);
      const assignment = { step: this.step, epoch, indices: slice, shardIndex, shardCount: active.length, globalBatchSize: indices.length, checksum };
      await this.sends.send(member.identity, stepStartFrames(this.description, member.id, this.nextSeq(), assignment, member.hasDataset ? undefined : this.dataset));
    }
  }

  private async finishStep(current: StepInProgress): Promise<void> {
    this.current = undefined;
    const metrics = this.options.metrics;
    metrics?.observePhase('wait', (current.lastArrivalMs - current.startedMs) / 1000);
    const optimizerDone = metrics?.startPhase('optimizer');
    let skipped = current.nonFinite.length > 0 || this.reducer.count === 0;
    let lr = 0;
    let gradientNorm = Number.NaN;
    if (skipped) {
      this.reducer.reset();
    } else {
      const result = this.optimizer.apply(this.reducer.takeMean(), current.step);
      ({ lr, gradientNorm, skipped } = result);
    }
    optimizerDone?.();
    if (skipped) {
      metrics?.recordSkippedStep('non_finite_gradient');
      this.skippedSteps += 1;
      this.options.log.warn({ step: current.step, workers: current.nonFinite }, `step ${current.step} skipped: non-finite gradient from ${current.nonFinite.join(', ') || 'the average'}`);
    }
    const loss = current.samples > 0 ? current.lossSum / current.samples : Number.NaN;
    if (!skipped) this.finalLoss = loss;
    const params = skipped ? undefined : Float32Array.from(this.optimizer.params);
    const checksum = parameterChecksum(this.optimizer.params);
    const active = this.members.active();
    const communicationDone = metrics?.startPhase('communication');
    for (const member of active) {
      const envelope: OutgoingEnvelope = {
        workerId: member.id, sequence: this.nextSeq(), runId: this.description.runId,
        update: {
          step: current.step, skipped, skipReason: skipped ? SkipReason.NON_FINITE_GRADIENT : SkipReason.SKIP_REASON_UNSPECIFIED,
          skipDetail: current.nonFinite.join(', '), parameterChecksum: checksum, learningRate: lr, kind: UpdateKind.PARAMETERS,
          loss, gradientNorm, samples: current.samples, contributors: active.length, epoch: current.epoch,
        },
      };
      const tensors = params === undefined ? [] : [{ name: TENSOR_NAMES.parameters, data: params, shape: [params.length] }];
      await this.sends.send(member.identity, encodeMessage(envelope, tensors, this.options.limits));
    }
    communicationDone?.();
    const seconds = (performance.now() - current.startedMs) / 1000;
    this.step += 1;
    if (!skipped) metrics?.recordStep({ step: this.step, epoch: current.epoch, loss, images: current.samples, durationSeconds: seconds, learningRate: lr, gradientGlobalNorm: gradientNorm });
    const record: StepRecord = {
      step: this.step, loss, imgs_per_s: current.samples / seconds, epoch: current.epoch, lr, grad_norm: gradientNorm,
      skipped, step_seconds: seconds, workers: active.length,
    };
    this.recorder.recordStep(record);
    this.options.onStep?.(record);
    const total = this.options.run.steps;
    if (this.recorder.gridDue(this.step, total)) this.options.onSampleGrid?.(await this.recorder.writeGrid(this.step, this.optimizer.ema), this.step);
    if (this.step >= total) return this.shutdown('training finished', true);
    await this.admitPending();
    await this.startStep();
  }

  private async shutdown(reason: string, completed: boolean): Promise<void> {
    for (const member of [...this.members.active(), ...this.members.pending()]) {
      await this.sends.send(member.identity, encodeMessage({ workerId: member.id, sequence: this.nextSeq(), runId: this.description.runId, shutdown: { reason, finalStep: this.step, completed } }));
    }
    await this.sends.drain();
    this.finished = true;
  }

  private async reply(identity: Buffer, workerId: number, error: ProtocolError): Promise<void> {
    await this.sends.send(identity, encodeMessage({ workerId, sequence: this.nextSeq(), runId: this.description.runId, error: error.toBody() }));
  }

  private logWaiting(): void {
    const connected = this.members.active().length;
    if (connected < this.options.minWorkers) {
      this.options.log.info(`waiting for workers: ${connected}/${this.options.minWorkers} connected (--min-workers ${this.options.minWorkers}); start workers with: ddpm worker --connect tcp://HOST:PORT`);
    }
  }

  private nextSeq(): number {
    this.sequence = nextSequence(this.sequence);
    return this.sequence;
  }
}
