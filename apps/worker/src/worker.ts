import * as tf from '@tensorflow/tfjs-core';
import { Dealer } from 'zeromq';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '@ddpm/metrics';
import { makeSchedule, type DiffusionSchedule } from '@ddpm/diffusion-core';
import { createDataset, datasetFingerprint, gatherBatchTensor, type Dataset } from '@ddpm/data';
import {
  countNonFinite,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  expectTensor,
  isProtocolError,
  nextSequence,
  findTensor,
  parameterChecksum,
  Phase,
  PROTOCOL_VERSION,
  ProtocolError,
  TENSOR_NAMES,
  UpdateKind,
  type CurveKeyPair,
  type DecodedMessage,
  type OutgoingEnvelope,
  type ProtocolLimits,
} from '@ddpm/protocol';
import { bucketRange, computeGradient, drawTrainingInputs, globalNorm } from '@ddpm/training';
import { UNet, type UNetConfig } from '@ddpm/unet';
import { Backoff } from './backoff.ts';
import { OrderedSender } from './ordered-sender.ts';

/** Test hooks (see worker-command.ts): they make a worker misbehave on purpose. */
export interface WorkerFaults {
  /** At this step, poison the gradient with a NaN. */
  readonly nanStep?: number;
  /** Sleep this long before computing each step (a slow host; heartbeats keep flowing). */
  readonly delayMs?: number;
}

export interface WorkerOptions {
  /** Coordinator endpoint, e.g. tcp://10.0.0.1:5555. */
  readonly connect: string;
  readonly name: string;
  /** The tfjs backend in use (reported in Hello). */
  readonly backend: string;
  /** This worker's copy of the dataset, or undefined to receive samples from the coordinator. */
  readonly dataset: Dataset | undefined;
  /** How long to wait for the coordinator's first Welcome before giving up. */
  readonly connectTimeoutMs: number;
  /** After losing the coordinator, how long to keep reconnecting before giving up. */
  readonly reconnectTimeoutMs: number;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
  /** CURVE: this worker's key pair and the coordinator's public key. */
  readonly curve?: { readonly keys: CurveKeyPair; readonly serverKey: string };
  readonly faults?: WorkerFaults;
  /**
   * Benchmark mode: replace data loading and compute by sleeps totalling this many ms (the gradient keeps its real
   * size): a third for the forward pass, then the rest shared among the buckets by size, each sent after its share, in
   * the order backpropagation produces them (last bucket first), as the real compute does.
   */
  readonly simulateComputeMs?: number;
}

/** What the Welcome established; kept across reconnects so a rejoin can say where the replica stands. */
interface Session {
  readonly workerId: number;
  readonly runId: string;
  readonly configJson: string;
  readonly model: UNet;
  readonly schedule: DiffusionSchedule;
  /** The replica's parameters. Swapped with `next` when an Update of kind BUCKETS confirms the step's UpdateBuckets. */
  params: Float32Array;
  /** Where this step's UpdateBuckets are assembled (the parameters after the step, if the Update confirms them). */
  next: Float32Array;
  /**
   * Where each step's gradient is written, reused across steps (fresh memory is expensive to touch). Safe although
   * gradients are sent zero-copy: the next StepStart only comes after the coordinator received this gradient whole.
   */
  readonly gradient: Float32Array;
  /** parameterChecksum(params), or undefined after an update until someone needs it (see checksumOf). */
  checksum: number | undefined;
  /** Welcome.bucket_starts: how gradients and updates are cut into buckets. */
  readonly bucketStarts: readonly number[];
  /** Per bucket, 1 once this step's UpdateBucket for it arrived. */
  readonly arrived: Uint8Array;
  /** The step of the last StepStart (the step in progress), or -1 before the first. */
  step: number;
  /** The step whose Update this replica applied last (step of Welcome − 1 initially). */
  appliedStep: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
}

type Outcome =
  | { readonly kind: 'shutdown'; readonly completed: boolean }
  | { readonly kind: 'left' }
  | { readonly kind: 'lost'; readonly reason: string };

/** Liveness defaults before the first Welcome says the coordinator's. */
const DEFAULT_HEARTBEAT_MS = 2000;

/**
 * A worker: registers with the coordinator, then for every StepStart computes the gradient of its local batch
 * (t and ε drawn per sample, closed-form noising, U-Net ε prediction, simplified loss, backprop) and sends it bucket by
 * bucket (Welcome.bucket_starts), each the moment backprop finished it; collects the step's UpdateBuckets and, when
 * the Update confirms them (kind BUCKETS), makes them its parameters, or takes the parameters whole (kind PARAMETERS).
 *
 * Liveness: it sends a Heartbeat whenever it sent nothing for the heartbeat interval, and one right before each
 * compute (which blocks its event loop: the coordinator's --heartbeat-timeout must exceed one step's compute). When the
 * coordinator is silent for twice the heartbeat timeout or says it is stopping, the worker
 * reconnects on a fresh connection with exponential backoff and sends a Hello with `resume`; when the coordinator no
 * longer knows it (STALE_STATE, UNKNOWN_WORKER) it sends that Hello on the same connection. It never restarts.
 *
 * Promises: never computes on parameters whose checksum differs from one the coordinator sent (StepStart, Update), and
 * reports its own checksum with every gradient bucket, so the coordinator catches any other divergence; a non-finite
 * bucket is reported (all_finite = false) instead of sent; a step missing an UpdateBucket is answered STALE_STATE;
 * {@link leave} sends Leave before closing.
 * Does not: restart the coordinator, or run an optimizer (the coordinator computes every update).
 */
export class Worker {
  private socket: Dealer | undefined;
  private sender: OrderedSender | undefined;
  private sequence = 0;
  private session: Session | undefined;
  /** True between a Hello and its Welcome on the current connection. */
  private joining = false;
  private steps = 0;
  private lastSentMs = 0;
  private leaving: string | undefined;
  private waiting: (() => number) | undefined;
  private readonly backoff = new Backoff(250, 8000);

  constructor(private readonly options: WorkerOptions) {}

  /** Runs until the coordinator sends Shutdown or {@link leave} is called; returns the number of steps computed. */
  async run(): Promise<{ steps: number; completed: boolean }> {
    const startedMs = Date.now();
    let lastContactMs = Date.now();
    for (;;) {
      const { outcome, contactMs } = await this.connection();
      if (contactMs !== undefined) lastContactMs = contactMs;
      if (outcome.kind === 'shutdown') return { steps: this.steps, completed: outcome.completed };
      if (outcome.kind === 'left' || this.leaving !== undefined) return { steps: this.steps, completed: false };
      const now = Date.now();
      if (this.session === undefined && now - startedMs > this.options.connectTimeoutMs) {
        throw new Error(
          `No answer from the coordinator at ${this.options.connect} within ${this.options.connectTimeoutMs / 1000} s. Check the address and port, and that \`ddpm coordinator\` is running and reachable (and, with CURVE, that this worker's public key is in its --allow-keys).`,
        );
      }
      if (this.session !== undefined && now - lastContactMs > this.options.reconnectTimeoutMs) {
        throw new Error(
          `Lost the coordinator at ${this.options.connect} ${((now - lastContactMs) / 1000).toFixed(0)} s ago and could not reconnect (--reconnect-timeout ${this.options.reconnectTimeoutMs / 1000} s). Restart the coordinator with --resume latest, then this worker.`,
        );
      }
      const delayMs = this.backoff.next();
      this.options.log.warn(
        { reason: outcome.reason, delayMs },
        `coordinator lost (${outcome.reason}); reconnecting in ${(delayMs / 1000).toFixed(2)} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.leaving !== undefined) return { steps: this.steps, completed: false };
    }
  }

  /** Leaves the run cleanly (SIGTERM/SIGINT): sends Leave, then closes the connection so {@link run} returns. */
  async leave(reason: string): Promise<void> {
    if (this.leaving !== undefined) return;
    this.leaving = reason;
    const socket = this.socket;
    if (socket === undefined || socket.closed) return;
    if (this.session !== undefined && !this.joining) {
      await this.send({ leave: { reason, lastAppliedStep: Math.max(0, this.session.appliedStep) } }).catch(
        () => undefined,
      );
    }
    socket.linger = 1000;
    socket.close();
  }

  /** One connection: Hello, then messages until shutdown, leave, or the coordinator is lost. */
  private async connection(): Promise<{ outcome: Outcome; contactMs?: number }> {
    const { curve, limits } = this.options;
    const timeoutMs = this.session === undefined ? this.options.connectTimeoutMs : this.coordinatorTimeoutMs();
    // The high-water marks leave room for every gradient bucket of a step to be queued while the compute goes on, and
    // for every UpdateBucket that arrives meanwhile (0: no limit; the coordinator sends one step's worth at a time).
    const socket = new Dealer({
      linger: 0,
      maxMessageSize: limits.maxMessageBytes,
      sendHighWaterMark: 4096,
      receiveHighWaterMark: 0,
      sendTimeout: Math.max(5000, timeoutMs),
      receiveTimeout: timeoutMs,
      ...(curve === undefined
        ? {}
        : {
            curveServerKey: curve.serverKey,
            curvePublicKey: curve.keys.publicKey,
            curveSecretKey: curve.keys.secretKey,
          }),
    });
    this.socket = socket;
    this.sender = new OrderedSender(socket);
    this.sequence = 0;
    socket.connect(this.options.connect);
    const intervalMs = this.session?.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    const timer = setInterval(
      () => {
        if (Date.now() - this.lastSentMs >= intervalMs && !socket.closed) {
          this.sendHeartbeat(this.joining ? Phase.LOADING : Phase.IDLE).catch((error: unknown) =>
            this.options.log.debug({ err: (error as Error).message }, 'heartbeat not sent'),
          );
        }
      },
      Math.max(10, intervalMs / 2),
    );
    let contactMs: number | undefined;
    try {
      await this.sendHello();
      this.options.log.info(
        { connect: this.options.connect, rejoin: this.session !== undefined },
        'hello sent; waiting for the coordinator',
      );
      for await (const [envelope, ...tensorFrames] of socket) {
        contactMs = Date.now();
        const outcome = await this.onMessage([envelope, ...tensorFrames]);
        if (outcome !== undefined) return { outcome, contactMs };
      }
      return {
        outcome: this.leaving !== undefined ? { kind: 'left' } : { kind: 'lost', reason: 'connection closed' },
        contactMs,
      };
    } catch (error) {
      if ((error as { code?: string }).code === 'EAGAIN')
        return {
          outcome: { kind: 'lost', reason: `no message for ${(socket.receiveTimeout / 1000).toFixed(1)} s` },
          contactMs,
        };
      if (this.leaving !== undefined) return { outcome: { kind: 'left' }, contactMs };
      throw error;
    } finally {
      clearInterval(timer);
      if (!socket.closed) socket.close();
    }
  }

  /**
   * How long the coordinator may be silent before this worker reconnects: twice the coordinator's heartbeat timeout.
   * The coordinator drops a silent worker after one timeout; waiting longer here means a worker that was only cut off
   * for a while comes back on its own connection and is told it is stale (STALE_STATE) instead of both sides giving up.
   */
  private coordinatorTimeoutMs(): number {
    return 2 * (this.session?.heartbeatTimeoutMs ?? 5 * DEFAULT_HEARTBEAT_MS);
  }

  private async onMessage(frames: Buffer[]): Promise<Outcome | undefined> {
    this.options.metrics?.addReceivedBytes(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
    let message: DecodedMessage;
    try {
      message = decodeMessage(frames, this.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.options.log.warn(
        { code: error.codeName, reason: error.message },
        'rejected a malformed message from the coordinator',
      );
      return undefined;
    }
    switch (message.kind) {
      case 'welcome':
        this.onWelcome(message);
        return undefined;
      case 'stepStart':
        await this.onStepStart(message);
        return undefined;
      case 'updateBucket':
        this.onUpdateBucket(message);
        return undefined;
      case 'update':
        await this.onUpdate(message);
        return undefined;
      case 'shutdown':
        this.options.log.info(
          { reason: message.body.reason, finalStep: message.body.finalStep },
          'coordinator shut the run down',
        );
        return { kind: 'shutdown', completed: message.body.completed };
      case 'error':
        return this.onError(message.body.code, message.body.message, message.body.fatal);
      default:
        return undefined;
    }
  }

  private async onError(code: number, text: string, fatal: boolean): Promise<Outcome | undefined> {
    if (fatal) throw new Error(`The coordinator refused this worker: ${text}`);
    if (code === ErrorCode.SHUTTING_DOWN) return { kind: 'lost', reason: text };
    // UNKNOWN_WORKER while joining means our Hello never reached this coordinator (it went to a predecessor that died
    // before answering): say Hello again. The coordinator only sends it in reply to our heartbeats, so this repeats at
    // most once per heartbeat interval.
    if ((code === ErrorCode.STALE_STATE && !this.joining) || code === ErrorCode.UNKNOWN_WORKER) {
      this.options.log.warn(
        { code, reason: text },
        'the coordinator does not know this replica (dropped or restarted); rejoining',
      );
      await this.sendHello();
      return undefined;
    }
    this.options.log.warn({ code, reason: text }, 'coordinator reported an error');
    return undefined;
  }

  private onWelcome(message: Extract<DecodedMessage, { kind: 'welcome' }>): void {
    const welcome = message.body;
    const configJson = welcome.model?.configJson ?? '';
    let described: { unet: UNetConfig; schedule: { kind: 'linear' | 'cosine'; timesteps: number } };
    try {
      described = JSON.parse(configJson) as typeof described;
    } catch {
      throw new Error(
        'The coordinator sent an unreadable model config; make sure coordinator and workers run the same ddpm version.',
      );
    }
    const reuse = this.session !== undefined && this.session.configJson === configJson;
    const model = reuse && this.session !== undefined ? this.session.model : new UNet(described.unet);
    let params: Float32Array;
    let checksum: number;
    const count = model.parameterCount();
    const bucketStarts = welcome.bucketStarts;
    if (
      bucketStarts.length === 0 ||
      bucketStarts[0] !== 0 ||
      bucketStarts.some((start, b) => b > 0 && !(start > bucketStarts[b - 1] && start < count))
    ) {
      throw new Error(
        `The coordinator sent bucket starts [${bucketStarts.slice(0, 8).join(', ')}...] that do not cut ${count} parameters into buckets; run the same ddpm version on coordinator and workers.`,
      );
    }
    if (welcome.parametersOmitted) {
      if (this.session === undefined || checksumOf(this.session) !== welcome.parameterChecksum)
        throw new Error(
          'The coordinator omitted the parameters but this replica does not hold them; restart the worker.',
        );
      ({ params } = this.session);
      checksum = checksumOf(this.session);
    } else {
      ({ params, checksum } = receivedParameters(message, count));
      params = params.slice();
    }
    if (checksum !== welcome.parameterChecksum)
      throw new Error(
        'The parameters in Welcome do not match their checksum; the transfer was corrupted. Restart the worker.',
      );
    if (this.options.dataset !== undefined && this.options.dataset.count !== welcome.datasetSize) {
      throw new Error(
        `This worker's dataset has ${this.options.dataset.count} images but the coordinator's has ${welcome.datasetSize}; pass the same --data (and --dataset-limit) to both.`,
      );
    }
    this.session = {
      workerId: welcome.workerId,
      runId: welcome.runId,
      configJson,
      model,
      schedule: reuse && this.session !== undefined ? this.session.schedule : makeSchedule(described.schedule),
      params,
      checksum,
      appliedStep: welcome.step - 1,
      bucketStarts,
      step: -1,
      gradient: reuse && this.session !== undefined ? this.session.gradient : new Float32Array(params.length),
      next: reuse && this.session !== undefined ? this.session.next : new Float32Array(params.length),
      arrived: new Uint8Array(bucketStarts.length),
      heartbeatIntervalMs: welcome.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS,
      heartbeatTimeoutMs: welcome.heartbeatTimeoutMs || 5 * DEFAULT_HEARTBEAT_MS,
    };
    this.joining = false;
    this.backoff.reset();
    if (this.socket !== undefined) this.socket.receiveTimeout = this.coordinatorTimeoutMs();
    this.options.log.info(
      { workerId: welcome.workerId, runId: welcome.runId, step: welcome.step, params: params.length },
      'joined the run',
    );
  }

  private async onStepStart(message: Extract<DecodedMessage, { kind: 'stepStart' }>): Promise<void> {
    const session = this.session;
    if (session === undefined || this.joining) return;
    const start = message.body;
    // 0: the coordinator sent this StepStart before applying the last update itself; it checks each Gradient's instead.
    if (start.parameterChecksum !== 0 && checksumOf(session) !== start.parameterChecksum) {
      await this.sendError(
        new ProtocolError(
          ErrorCode.STALE_STATE,
          `parameters of this replica differ from the coordinator's at step ${start.step}.`,
        ),
        start.step,
      );
      return;
    }
    this.waiting?.();
    this.waiting = undefined;
    const metrics = this.options.metrics;
    const started = performance.now();
    const { model, schedule } = session;
    const indices = Uint32Array.from(start.indices);
    const { imageSize, inChannels } = model.config;
    const faults = this.options.faults;
    if (faults?.delayMs) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
    // The compute below blocks the event loop; this heartbeat tells the coordinator the worker is alive and busy.
    await this.sendHeartbeat(Phase.COMPUTING);
    session.step = start.step;
    session.arrived.fill(0);
    let dataMs = 0;
    const sends: Promise<void>[] = [];
    // Each bucket goes out the moment backpropagation finished it (zeromq.js hands it to its I/O thread at once, even
    // while the compute keeps this thread busy), so the transfer overlaps the rest of the backward pass.
    const sendBucket = (bucket: number, loss: number): void => {
      if (faults?.nanStep === start.step && bucket === 0) {
        session.gradient[0] = Number.NaN;
        this.options.log.warn({ step: start.step }, 'test hook DDPM_FAULT_NAN_STEP: poisoned the gradient with a NaN');
      }
      const timings = { dataMs, computeMs: performance.now() - started - dataMs, totalMs: performance.now() - started };
      sends.push(this.sendBucket(session, start.step, checksumOf(session), indices.length, bucket, loss, timings));
    };
    if (this.options.simulateComputeMs !== undefined) {
      await this.simulateCompute(session, this.options.simulateComputeMs, sendBucket);
    } else {
      const x0 = start.samplesInline
        ? this.inlineBatch(message, indices.length, imageSize, inChannels)
        : gatherBatchTensor(this.requireDataset(), indices);
      dataMs = performance.now() - started;
      const inputs = drawTrainingInputs(
        start.seed,
        start.step,
        indices,
        imageSize * imageSize * inChannels,
        schedule.timesteps,
      );
      computeGradient(model, schedule, session.params, x0, inputs, {
        into: session.gradient,
        stream: { starts: session.bucketStarts, onBucket: sendBucket },
      });
      x0.dispose();
    }
    const computeMs = performance.now() - started - dataMs;
    metrics?.observePhase('data', dataMs / 1000);
    metrics?.observePhase('compute', computeMs / 1000);
    const communicationDone = metrics?.startPhase('communication');
    this.steps += 1;
    await Promise.all(sends);
    communicationDone?.();
    metrics?.recordStep({ images: indices.length, durationSeconds: (performance.now() - started) / 1000 });
    this.waiting = metrics?.startPhase('wait');
  }

  /** Sends one bucket of this step's gradient (a zero-copy view of session.gradient) with its norm and finiteness. */
  private sendBucket(
    session: Session,
    step: number,
    checksum: number,
    samples: number,
    bucket: number,
    loss: number,
    timings: { dataMs: number; computeMs: number; totalMs: number },
  ): Promise<void> {
    const { start, end } = bucketRange(session.bucketStarts, session.gradient.length, bucket);
    const part = session.gradient.subarray(start, end);
    // One pass for the norm; only a non-finite norm needs the second pass that counts the culprits.
    const gradientNorm = globalNorm(part);
    const nonFinite = (Number.isFinite(gradientNorm) ? 0 : countNonFinite(part)) + (Number.isFinite(loss) ? 0 : 1);
    return this.send(
      {
        gradient: {
          step,
          samples,
          loss,
          gradientNorm,
          allFinite: nonFinite === 0,
          nonFiniteCount: nonFinite,
          timings,
          parameterChecksum: checksum,
          bucket,
        },
      },
      nonFinite === 0 ? [{ name: TENSOR_NAMES.gradient, data: part, shape: [part.length] }] : [],
    );
  }

  /**
   * Benchmark mode: sleeps stand in for the compute (a third of `ms` for the forward pass, the rest shared among the
   * buckets by size) and each bucket is sent after its share, last bucket first; the gradient keeps its real size.
   */
  private async simulateCompute(
    session: Session,
    ms: number,
    sendBucket: (bucket: number, loss: number) => void,
  ): Promise<void> {
    const sleep = (duration: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, duration));
    const total = session.gradient.length;
    session.gradient.fill(1e-4);
    const startedMs = performance.now();
    let elapsedShare = ms / 3;
    await sleep(elapsedShare);
    for (let bucket = session.bucketStarts.length - 1; bucket >= 0; bucket--) {
      const { start, end } = bucketRange(session.bucketStarts, total, bucket);
      elapsedShare += ((2 * ms) / 3) * ((end - start) / total);
      await sleep(Math.max(0, startedMs + elapsedShare - performance.now()));
      sendBucket(bucket, 1);
    }
  }

  /** Keeps one bucket of the step's proposed parameters until the step's Update says whether they count. */
  private onUpdateBucket(message: Extract<DecodedMessage, { kind: 'updateBucket' }>): void {
    const session = this.session;
    if (session === undefined || this.joining) return;
    const { step, bucket } = message.body;
    // A worker given no samples this step (a short last batch of an epoch) gets no StepStart but does get the update.
    if (step === session.appliedStep + 1 && step !== session.step) {
      session.step = step;
      session.arrived.fill(0);
    }
    if (step !== session.step || bucket >= session.bucketStarts.length) {
      this.options.log.warn(
        { step, bucket, current: session.step },
        'ignored an UpdateBucket for another step or an unknown bucket',
      );
      return;
    }
    const { start, end } = bucketRange(session.bucketStarts, session.next.length, bucket);
    try {
      session.next.set(expectTensor(message.tensors, TENSOR_NAMES.parameters, [end - start], 'float32'), start);
      session.arrived[bucket] = 1;
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      this.options.log.warn(
        { step, bucket, reason: error.message },
        'ignored a malformed UpdateBucket; the Update of this step will ask for fresh state',
      );
    }
  }

  private async onUpdate(message: Extract<DecodedMessage, { kind: 'update' }>): Promise<void> {
    const session = this.session;
    if (session === undefined || this.joining) return;
    const update = message.body;
    if (!update.skipped && update.kind === UpdateKind.BUCKETS) {
      const missing = session.arrived.length - session.arrived.reduce((sum, arrived) => sum + arrived, 0);
      if (missing > 0 || update.step !== session.step) {
        this.options.log.error(
          { step: update.step, missing },
          'cannot apply the update: UpdateBuckets missing; asking the coordinator for fresh state',
        );
        await this.sendError(
          new ProtocolError(
            ErrorCode.STALE_STATE,
            `cannot apply the update of step ${update.step}: ${missing} UpdateBucket(s) missing.`,
          ),
          update.step,
        );
        return;
      }
      [session.params, session.next] = [session.next, session.params];
      // Computed when first needed (the next StepStart's check or the first gradient bucket); the coordinator sent no
      // checksum here because it had not computed it yet either.
      session.checksum = undefined;
      session.appliedStep = update.step;
      return;
    }
    if (!update.skipped) {
      // Copied into the replica's own buffer: no fresh memory per step, and the received frame can be freed young.
      const { params, checksum } = receivedParameters(message, session.params.length);
      session.params.set(params);
      session.checksum = checksum;
    } else if (update.skipDetail) {
      this.options.log.warn(
        { step: update.step, detail: update.skipDetail },
        `step ${update.step} was skipped by the coordinator: ${update.skipDetail}`,
      );
    }
    session.appliedStep = update.step;
    if (checksumOf(session) !== update.parameterChecksum) {
      this.options.log.error(
        { step: update.step },
        'replica checksum mismatch after the update; asking the coordinator for fresh state',
      );
      await this.sendError(
        new ProtocolError(
          ErrorCode.STALE_STATE,
          `parameter checksum mismatch after the update of step ${update.step}.`,
        ),
        update.step,
      );
    }
  }

  private inlineBatch(
    message: Extract<DecodedMessage, { kind: 'stepStart' }>,
    count: number,
    size: number,
    channels: number,
  ): tf.Tensor4D {
    const images = expectTensor(message.tensors, TENSOR_NAMES.samples, [count, size, size, channels], 'uint8');
    const batch = createDataset({ name: 'inline', count, height: size, width: size, channels, images });
    return gatherBatchTensor(
      batch,
      Array.from({ length: count }, (_, i) => i),
    );
  }

  private requireDataset(): Dataset {
    if (this.options.dataset === undefined)
      throw new Error(
        'The coordinator assigned indices without samples to a worker without a dataset; this is a coordinator bug.',
      );
    return this.options.dataset;
  }

  private async sendHello(): Promise<void> {
    const { dataset, limits, name, backend } = this.options;
    const session = this.session;
    this.joining = true;
    await this.send({
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        workerName: name,
        backend,
        softwareVersion: 'ddpm-worker 0.1.0',
        capabilities: {
          hasDataset: dataset !== undefined,
          datasetFingerprint: dataset === undefined ? '' : datasetFingerprint(dataset),
          maxMessageBytes: limits.maxMessageBytes,
        },
        resume:
          session === undefined
            ? undefined
            : {
                runId: session.runId,
                workerId: session.workerId,
                lastAppliedStep: Math.max(0, session.appliedStep),
                parameterChecksum: checksumOf(session),
              },
      },
    });
  }

  private sendHeartbeat(phase: Phase): Promise<void> {
    return this.send({
      heartbeat: { sentAtUnixMs: Date.now(), echoUnixMs: 0, step: Math.max(0, this.session?.appliedStep ?? 0), phase },
    });
  }

  private async sendError(error: ProtocolError, step: number): Promise<void> {
    await this.send({ error: error.toBody(undefined, step) });
  }

  /**
   * Sends one message on the current connection, numbered now and sent in call order (OrderedSender), also from inside
   * a synchronous compute. While joining, messages carry worker id 0 and no run id: the coordinator knows the
   * connection, not the id.
   */
  private send(
    body: Omit<OutgoingEnvelope, 'workerId' | 'sequence' | 'runId'>,
    tensors: Parameters<typeof encodeMessage>[1] = [],
  ): Promise<void> {
    const sender = this.sender;
    if (sender === undefined) return Promise.reject(new Error('not connected'));
    const hello = 'hello' in body;
    const joining = this.joining && !hello;
    const session = this.session;
    let frames: Buffer[];
    try {
      this.sequence = nextSequence(this.sequence);
      const envelope = {
        workerId: hello || joining ? 0 : (session?.workerId ?? 0),
        sequence: this.sequence,
        runId: hello || joining ? '' : (session?.runId ?? ''),
        ...body,
      } as OutgoingEnvelope;
      frames = encodeMessage(envelope, tensors, this.options.limits);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.lastSentMs = Date.now();
    const bytes = frames.reduce((sum, frame) => sum + frame.byteLength, 0);
    return sender.send(frames).then(() => this.options.metrics?.addSentBytes(bytes));
  }
}

/** The replica's parameter checksum, computed (one CRC-32 pass) and kept if the last update left it unknown. */
function checksumOf(session: Session): number {
  session.checksum ??= parameterChecksum(session.params);
  return session.checksum;
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
