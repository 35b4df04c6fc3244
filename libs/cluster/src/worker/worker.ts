import { Dealer } from 'zeromq';
import {
  decodeMessage,
  encodeMessage,
  ErrorCode,
  ProtocolError,
  isProtocolError,
  nextSequence,
  Phase,
  type CurveKeyPair,
  type DecodedMessage,
  type OutgoingBody,
  type TensorInput,
} from '@ddpm/protocol';
import { z85Decode } from '../coordinator/z85.ts';
import { ShardedPlane } from '../sharded/sharded-plane.ts';
import { OrderedSender } from '../transport/ordered-sender.ts';
import { Backoff } from './backoff.ts';
import { StepInFlight } from './step-in-flight.ts';
import type { GradientSource } from './gradient-source.ts';
import { DEFAULT_HEARTBEAT_MS } from './replica.ts';
import { WorkerCore, type Outcome, type WorkerIdentity, type WorkerLink } from './worker-core.ts';

export interface WorkerOptions extends WorkerIdentity {
  /** Coordinator endpoint, e.g. tcp://10.0.0.1:5555. */
  readonly connect: string;
  /** How long to wait for the coordinator's first Welcome before giving up. */
  readonly connectTimeoutMs: number;
  /** After losing the coordinator, how long to keep reconnecting before giving up. */
  readonly reconnectTimeoutMs: number;
  /** CURVE: this worker's key pair and the coordinator's public key. */
  readonly curve?: { readonly keys: CurveKeyPair; readonly serverKey: string };
  /** Where the other workers reach this one in the sharded topology (--peer-endpoint; port 0 picks one). */
  readonly peerEndpoint?: string;
}

/**
 * A worker's connection to its coordinator: a ZeroMQ DEALER around a {@link WorkerCore}.
 *
 * Liveness: it sends a Heartbeat whenever it sent nothing for the heartbeat interval, and one right before each
 * compute (which blocks its event loop: the coordinator's --heartbeat-timeout must exceed one step's compute). When the
 * coordinator is silent for twice the heartbeat timeout or says it is stopping, the worker reconnects on a fresh
 * connection with exponential backoff and sends a Hello with `resume`. It never restarts.
 * Promises: {@link leave} sends Leave before closing.
 */
export class Worker implements WorkerLink {
  private socket: Dealer | undefined;
  private sender: OrderedSender | undefined;
  private sequence = 0;
  private lastSentMs = 0;
  private leaving: string | undefined;
  private readonly backoff = new Backoff(250, 8000);
  private readonly core: WorkerCore;
  private plane: ShardedPlane | undefined;

  constructor(
    private readonly options: WorkerOptions,
    source: GradientSource,
  ) {
    this.core = new WorkerCore(options, source, this);
  }

  /** Runs until the coordinator sends Shutdown or {@link leave} is called; returns the number of steps computed. */
  async run(): Promise<{ steps: number; completed: boolean }> {
    const { peerEndpoint, limits, log, curve } = this.options;
    if (peerEndpoint !== undefined && this.plane === undefined) {
      this.plane = await ShardedPlane.open(peerEndpoint, { limits, log, curve: curve?.keys }, this.core, this);
      this.core.peer = { endpoint: this.plane.endpoint, curvePublicKey: curve && z85Decode(curve.keys.publicKey) };
      log.info({ peerEndpoint: this.plane.endpoint }, 'accepting peer connections (sharded topology)');
    }
    try {
      return await this.connections();
    } finally {
      await this.plane?.close();
    }
  }

  private async connections(): Promise<{ steps: number; completed: boolean }> {
    const startedMs = Date.now();
    let lastContactMs = Date.now();
    const { connect, connectTimeoutMs, reconnectTimeoutMs, log } = this.options;
    for (;;) {
      const { outcome, contactMs } = await this.connection();
      if (contactMs !== undefined) lastContactMs = contactMs;
      const steps = this.core.steps;
      if (outcome.kind === 'shutdown') return { steps, completed: outcome.completed };
      if (outcome.kind === 'left' || this.leaving !== undefined) return { steps, completed: false };
      const now = Date.now();
      if (this.core.replica === undefined && now - startedMs > connectTimeoutMs) {
        throw new Error(
          `No answer from the coordinator at ${connect} within ${connectTimeoutMs / 1000} s. Check the address and port, and that \`ddpm coordinator\` is running and reachable (and, with CURVE, that this worker's public key is in its --allow-keys).`,
        );
      }
      if (this.core.replica !== undefined && now - lastContactMs > reconnectTimeoutMs) {
        throw new Error(
          `Lost the coordinator at ${connect} ${((now - lastContactMs) / 1000).toFixed(0)} s ago and could not reconnect (--reconnect-timeout ${reconnectTimeoutMs / 1000} s). Restart the coordinator with --resume latest, then this worker.`,
        );
      }
      const delayMs = this.backoff.next();
      const reason = outcome.kind === 'lost' ? outcome.reason : outcome.kind;
      log.warn({ reason, delayMs }, `coordinator lost (${reason}); reconnecting in ${(delayMs / 1000).toFixed(2)} s`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.leaving !== undefined) return { steps: this.core.steps, completed: false };
    }
  }

  /** Leaves the run cleanly (SIGTERM/SIGINT): sends Leave, then closes the connection so {@link run} returns. */
  async leave(reason: string): Promise<void> {
    if (this.leaving !== undefined) return;
    this.leaving = reason;
    const socket = this.socket;
    if (socket === undefined || socket.closed) return;
    await this.core.leave(reason).catch(() => undefined);
    socket.linger = 1000;
    socket.close();
  }

  /**
   * Sends one message on the current connection, numbered now and sent in call order (OrderedSender), also from inside
   * a synchronous compute.
   */
  send(body: OutgoingBody, tensors: readonly TensorInput[] = []): Promise<void> {
    const routed = this.plane?.route(body, tensors);
    if (routed !== undefined) return routed;
    const sender = this.sender;
    if (sender === undefined) return Promise.reject(new Error('not connected'));
    let frames: Buffer[];
    try {
      this.sequence = nextSequence(this.sequence);
      const header = this.core.header('hello' in body);
      frames = encodeMessage({ ...header, sequence: this.sequence, ...body }, tensors, this.options.limits);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.lastSentMs = Date.now();
    const bytes = frames.reduce((sum, frame) => sum + frame.byteLength, 0);
    return sender.send(frames).then(() => this.options.metrics?.addSentBytes(bytes));
  }

  /** One connection: Hello, then messages until shutdown, leave, or the coordinator is lost. */
  private async connection(): Promise<{ outcome: Outcome; contactMs?: number }> {
    const { curve, limits, log } = this.options;
    const timeoutMs = this.core.replica === undefined ? this.options.connectTimeoutMs : this.coordinatorTimeoutMs();
    // The high-water marks leave room for every gradient bucket of a step to be queued while the compute goes on, and
    // for every UpdateBucket that arrives meanwhile (0: no limit; the coordinator sends one step's worth at a time).
    const keys =
      curve === undefined
        ? {}
        : {
            curveServerKey: curve.serverKey,
            curvePublicKey: curve.keys.publicKey,
            curveSecretKey: curve.keys.secretKey,
          };
    const socket = new Dealer({
      ...{ linger: 0, maxMessageSize: limits.maxMessageBytes, sendHighWaterMark: 4096, receiveHighWaterMark: 0 },
      ...{ sendTimeout: Math.max(5000, timeoutMs), receiveTimeout: timeoutMs, ...keys },
    });
    this.socket = socket;
    this.sender = new OrderedSender(socket);
    this.sequence = 0;
    socket.connect(this.options.connect);
    const intervalMs = this.core.replica?.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    const timer = setInterval(
      () => {
        if (Date.now() - this.lastSentMs < intervalMs || socket.closed) return;
        this.core
          .heartbeat(this.core.joining ? Phase.LOADING : Phase.IDLE)
          .catch((error: unknown) => log.debug({ err: (error as Error).message }, 'heartbeat not sent'));
      },
      Math.max(10, intervalMs / 2),
    );
    let contactMs: number | undefined;
    const inFlight = new StepInFlight();
    try {
      await this.core.hello();
      log.info(
        { connect: this.options.connect, rejoin: this.core.replica !== undefined },
        'hello sent; waiting for the coordinator',
      );
      for await (const frames of socket) {
        contactMs = Date.now();
        const message = this.decode(frames);
        if (message === undefined) continue;
        if (!StepInFlight.passes(message)) await inFlight.settled();
        if (message.kind === 'stepStart') {
          inFlight.start(this.onMessage(message), async (error) => {
            await this.reportFailure(error, socket);
            socket.close(); // ends the loop; the catch below rethrows the failure
          });
          continue;
        }
        const outcome = await this.onMessage(message);
        if (outcome?.kind === 'joined') {
          this.backoff.reset();
          socket.receiveTimeout = this.coordinatorTimeoutMs();
        } else if (outcome !== undefined) return { outcome, contactMs };
      }
      await inFlight.settled();
      return {
        outcome: this.leaving !== undefined ? { kind: 'left' } : { kind: 'lost', reason: 'connection closed' },
        contactMs,
      };
    } catch (error) {
      // Leaving closed the socket under the step in flight: its failed sends are the leave, not a failure.
      if (this.leaving !== undefined) return { outcome: { kind: 'left' }, contactMs };
      if (inFlight.failure !== undefined) throw inFlight.failure; // reported already
      if ((error as { code?: string }).code === 'EAGAIN')
        return {
          outcome: { kind: 'lost', reason: `no message for ${(socket.receiveTimeout / 1000).toFixed(1)} s` },
          contactMs,
        };
      await this.reportFailure(error as Error, socket);
      throw error;
    } finally {
      clearInterval(timer);
      await inFlight.settled().catch(() => undefined);
      if (!socket.closed) socket.close();
    }
  }

  /**
   * This worker is about to stop on an error (a failed compute, a lost GPU device): it tells the coordinator first
   * (Error INTERNAL, fatal), so the coordinator drops it at once instead of after --heartbeat-timeout.
   */
  private async reportFailure(error: Error, socket: Dealer): Promise<void> {
    if (this.core.replica === undefined || this.core.joining || socket.closed) return;
    const text = `worker ${this.options.name} stopped: ${error.message}`;
    const step = Math.max(0, this.core.replica.step); // the step it was computing
    await this.send({ error: new ProtocolError(ErrorCode.INTERNAL, text, { fatal: true, step }).toBody() }).catch(
      () => undefined,
    );
    socket.linger = 1000;
  }

  private decode(frames: Buffer[]): DecodedMessage | undefined {
    const { metrics, limits, log } = this.options;
    metrics?.addReceivedBytes(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
    try {
      return decodeMessage(frames, limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      log.warn({ code: error.codeName, reason: error.message }, 'rejected a malformed message from the coordinator');
      return undefined;
    }
  }

  private async onMessage(message: DecodedMessage): Promise<Outcome | undefined> {
    await this.plane?.before(message);
    const outcome = await this.core.handle(message);
    await this.plane?.after(message);
    return outcome;
  }

  /**
   * How long the coordinator may be silent before this worker reconnects: twice the coordinator's heartbeat timeout.
   * The coordinator drops a silent worker after one timeout; waiting longer here means a worker that was only cut off
   * for a while comes back on its own connection and is told it is stale (STALE_STATE) instead of both sides giving up.
   */
  private coordinatorTimeoutMs(): number {
    return 2 * (this.core.replica?.heartbeatTimeoutMs ?? 5 * DEFAULT_HEARTBEAT_MS);
  }
}
