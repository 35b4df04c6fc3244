import * as tf from '@tensorflow/tfjs-core';
import { Dealer } from 'zeromq';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '@ddpm/metrics';
import { makeSchedule, type DiffusionSchedule } from '@ddpm/diffusion-core';
import { createDataset, datasetFingerprint, gatherBatchTensor, type Dataset } from '@ddpm/data';
import {
  countNonFinite, decodeMessage, encodeMessage, ErrorCode, expectTensor, isProtocolError, nextSequence, parameterChecksum,
  PROTOCOL_VERSION, ProtocolError, TENSOR_NAMES, type DecodedMessage, type OutgoingEnvelope, type ProtocolLimits,
} from '@ddpm/protocol';
import { computeGradient, drawTrainingInputs, globalNorm } from '@ddpm/training';
import { UNet, type UNetConfig } from '@ddpm/unet';

export interface WorkerOptions {
  /** Coordinator endpoint, e.g. tcp://10.0.0.1:5555. */
  readonly connect: string;
  readonly name: string;
  /** The tfjs backend in use (reported in Hello). */
  readonly backend: string;
  /** This worker's copy of the dataset, or undefined to receive samples from the coordinator. */
  readonly dataset: Dataset | undefined;
  /** How long to wait for the coordinator's Welcome before giving up. */
  readonly connectTimeoutMs: number;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
}

/** What the Welcome established. */
interface Session {
  readonly workerId: number;
  readonly runId: string;
  readonly model: UNet;
  readonly schedule: DiffusionSchedule;
  params: Float32Array;
  /** The step whose Update this replica applied last (step of Welcome − 1 initially). */
  appliedStep: number;
}

/**
 * A worker: registers with the coordinator, then for every StepStart computes the gradient of its local batch
 * (t and ε drawn per sample, closed-form noising, U-Net ε prediction, simplified loss, backprop) and sends it; applies
 * every Update and verifies the parameter checksum, reporting STALE_STATE on a mismatch.
 *
 * Promises: never computes on parameters whose checksum differs from the coordinator's; a non-finite gradient is
 * reported (all_finite = false) instead of sent.
 * Does not (yet): reconnect after a coordinator failure, or send heartbeats while computing.
 */
export class Worker {
  private readonly socket = new Dealer({ linger: 0, maxMessageSize: 0 });
  private sequence = 0;
  private session: Session | undefined;
  private steps = 0;
  /** Stops the 'wait' phase timer: from sending a gradient until the next StepStart arrives. */
  private waiting: (() => number) | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.socket.maxMessageSize = options.limits.maxMessageBytes;
    this.socket.receiveTimeout = options.connectTimeoutMs;
  }

  /** Runs until the coordinator sends Shutdown; returns the number of steps this worker computed. */
  async run(): Promise<{ steps: number; completed: boolean }> {
    const { dataset, log } = this.options;
    this.socket.connect(this.options.connect);
    await this.send({
      hello: {
        protocolVersion: PROTOCOL_VERSION, workerName: this.options.name, backend: this.options.backend,
        capabilities: { hasDataset: dataset !== undefined, datasetFingerprint: dataset === undefined ? '' : datasetFingerprint(dataset), maxMessageBytes: this.options.limits.maxMessageBytes },
      },
    });
    log.info({ connect: this.options.connect }, 'hello sent; waiting for the coordinator');
    try {
      for await (const [envelope, ...tensorFrames] of this.socket) {
        const outcome = await this.onMessage([envelope, ...tensorFrames]);
        if (outcome !== undefined) return { steps: this.steps, completed: outcome.completed };
      }
    } catch (error) {
      if ((error as { code?: string }).code === 'EAGAIN') {
        throw new Error(`No answer from the coordinator at ${this.options.connect} within ${this.options.connectTimeoutMs / 1000} s. Check the address and port, and that \`ddpm coordinator\` is running and reachable.`);
      }
      throw error;
    } finally {
      this.socket.close();
    }
    return { steps: this.steps, completed: false };
  }

  private async onMessage(frames: Buffer[]): Promise<{ completed: boolean } | undefined> {
    this.options.metrics?.addReceivedBytes(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
    let message: DecodedMessage;
    try {
      message = decodeMessage(frames, this.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.options.log.warn({ code: error.codeName, reason: error.message }, 'rejected a malformed message from the coordinator');
      return undefined;
    }
    switch (message.kind) {
      case 'welcome':
        this.onWelcome(message);
        return undefined;
      case 'stepStart':
        await this.onStepStart(message);
        return undefined;
      case 'update':
        await this.onUpdate(message);
        return undefined;
      case 'shutdown':
        this.options.log.info({ reason: message.body.reason, finalStep: message.body.finalStep }, 'coordinator shut the run down');
        return { completed: message.body.completed };
      case 'error':
        if (message.body.fatal) throw new Error(`The coordinator refused this worker: ${message.body.message}`);
        this.options.log.warn({ code: message.body.code, reason: message.body.message }, 'coordinator reported an error');
        return undefined;
      default:
        return undefined;
    }
  }

  private onWelcome(message: Extract<DecodedMessage, { kind: 'welcome' }>): void {
    const welcome = message.body;
    let described: { unet: UNetConfig; schedule: { kind: 'linear' | 'cosine'; timesteps: number } };
    try {
      described = JSON.parse(welcome.model?.configJson ?? '') as typeof described;
    } catch {
      throw new Error('The coordinator sent an unreadable model config; make sure coordinator and workers run the same ddpm version.');
    }
    const model = new UNet(described.unet);
    const params = Float32Array.from(expectTensor(message.tensors, TENSOR_NAMES.parameters, [model.parameterCount()], 'float32'));
    if (parameterChecksum(params) !== welcome.parameterChecksum) throw new Error('The parameters in Welcome do not match their checksum; the transfer was corrupted. Restart the worker.');
    if (this.options.dataset !== undefined && this.options.dataset.count !== welcome.datasetSize) {
      throw new Error(`This worker's dataset has ${this.options.dataset.count} images but the coordinator's has ${welcome.datasetSize}; pass the same --data to both.`);
    }
    this.session = { workerId: welcome.workerId, runId: welcome.runId, model, schedule: makeSchedule(described.schedule), params, appliedStep: welcome.step - 1 };
    this.socket.receiveTimeout = -1;
    this.options.log.info({ workerId: welcome.workerId, runId: welcome.runId, step: welcome.step, params: params.length }, 'joined the run');
  }

  private async onStepStart(message: Extract<DecodedMessage, { kind: 'stepStart' }>): Promise<void> {
    const session = this.requireSession();
    const start = message.body;
    if (parameterChecksum(session.params) !== start.parameterChecksum) {
      await this.sendError(new ProtocolError(ErrorCode.STALE_STATE, `parameters of this replica differ from the coordinator's at step ${start.step}.`), start.step);
      return;
    }
    this.waiting?.();
    this.waiting = undefined;
    const metrics = this.options.metrics;
    const started = performance.now();
    const { model, schedule } = session;
    const indices = Uint32Array.from(start.indices);
    const { imageSize, inChannels } = model.config;
    const x0 = start.samplesInline ? this.inlineBatch(message, indices.length, imageSize, inChannels) : gatherBatchTensor(this.requireDataset(), indices);
    const dataMs = performance.now() - started;
    const inputs = drawTrainingInputs(start.seed, start.step, indices, imageSize * imageSize * inChannels, schedule.timesteps);
    const { loss, gradient } = computeGradient(model, schedule, session.params, x0, inputs);
    x0.dispose();
    const computeMs = performance.now() - started - dataMs;
    metrics?.observePhase('data', dataMs / 1000);
    metrics?.observePhase('compute', computeMs / 1000);
    const communicationDone = metrics?.startPhase('communication');
    const nonFinite = countNonFinite(gradient) + (Number.isFinite(loss) ? 0 : 1);
    this.steps += 1;
    await this.send(
      {
        gradient: {
          step: start.step, samples: indices.length, loss, gradientNorm: globalNorm(gradient), allFinite: nonFinite === 0, nonFiniteCount: nonFinite,
          timings: { dataMs, computeMs, totalMs: performance.now() - started }, parameterChecksum: start.parameterChecksum,
        },
      },
      nonFinite === 0 ? [{ name: TENSOR_NAMES.gradient, data: gradient, shape: [gradient.length] }] : [],
    );
    communicationDone?.();
    metrics?.recordStep({ images: indices.length, durationSeconds: (performance.now() - started) / 1000 });
    this.waiting = metrics?.startPhase('wait');
  }

  private async onUpdate(message: Extract<DecodedMessage, { kind: 'update' }>): Promise<void> {
    const session = this.requireSession();
    const update = message.body;
    if (!update.skipped) session.params = Float32Array.from(expectTensor(message.tensors, TENSOR_NAMES.parameters, [session.params.length], 'float32'));
    session.appliedStep = update.step;
    if (parameterChecksum(session.params) !== update.parameterChecksum) {
      this.options.log.error({ step: update.step }, 'replica checksum mismatch after the update; asking the coordinator for fresh state');
      await this.sendError(new ProtocolError(ErrorCode.STALE_STATE, `parameter checksum mismatch after the update of step ${update.step}.`), update.step);
    }
  }

  private inlineBatch(message: Extract<DecodedMessage, { kind: 'stepStart' }>, count: number, size: number, channels: number): tf.Tensor4D {
    const images = expectTensor(message.tensors, TENSOR_NAMES.samples, [count, size, size, channels], 'uint8');
    const batch = createDataset({ name: 'inline', count, height: size, width: size, channels, images });
    return gatherBatchTensor(batch, Array.from({ length: count }, (_, i) => i));
  }

  private requireSession(): Session {
    if (this.session === undefined) throw new Error('The coordinator sent a step before Welcome; this is a protocol bug on the coordinator side.');
    return this.session;
  }

  private requireDataset(): Dataset {
    if (this.options.dataset === undefined) throw new Error('The coordinator assigned indices without samples to a worker without a dataset; this is a coordinator bug.');
    return this.options.dataset;
  }

  private async sendError(error: ProtocolError, step: number): Promise<void> {
    await this.send({ error: error.toBody(undefined, step) });
  }

  private async send(body: Omit<OutgoingEnvelope, 'workerId' | 'sequence' | 'runId'>, tensors: Parameters<typeof encodeMessage>[1] = []): Promise<void> {
    this.sequence = nextSequence(this.sequence);
    const envelope = { workerId: this.session?.workerId ?? 0, sequence: this.sequence, runId: this.session?.runId ?? '', ...body } as OutgoingEnvelope;
    const frames = encodeMessage(envelope, tensors, this.options.limits);
    await this.socket.send(frames);
    this.options.metrics?.addSentBytes(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
  }
}
