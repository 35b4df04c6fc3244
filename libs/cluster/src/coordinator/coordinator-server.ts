import { Router } from 'zeromq';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import {
  decodeMessage,
  encodeMessage,
  isProtocolError,
  nextSequence,
  type DecodedMessage,
  type ProtocolLimits,
} from '@ddpm/protocol';
import { OrderedSender } from '../transport/ordered-sender.ts';
import type { Outgoing } from './actions.ts';
import type { CoordinatorEngine } from './coordinator-engine.ts';
import type { RunLifecycle } from './run-lifecycle.ts';
import type { Member } from './membership.ts';
import { RunCoordinator, type CoordinatorSummary, type Delivery } from './run-coordinator.ts';
import { Serial } from './serial.ts';
import { watchHandshakes } from './handshake-monitor.ts';

/** The ROUTER side of a run. */
export interface ServerOptions {
  /** ZeroMQ endpoint to bind, e.g. tcp://*:5555. */
  readonly bind: string;
  readonly limits: ProtocolLimits;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  /** Extra ZeroMQ socket options for the ROUTER (CURVE server keys). */
  readonly socketOptions?: {
    readonly curveServer?: boolean;
    readonly curveSecretKey?: string;
    readonly curvePublicKey?: string;
  };
}

/**
 * The coordinator's transport shell: one ZeroMQ ROUTER, a `for await` receive loop and a heartbeat timer, all
 * funnelled through one {@link Serial} into the engine; its actions are carried out by a {@link RunCoordinator}.
 * Promises: messages to one worker leave in the order the engine produced them; an answer to an unregistered
 * connection is dropped while more than 256 messages wait (a flood must not grow memory).
 * Does not: decide anything (CoordinatorEngine) or check CURVE keys (the ZAP handler does).
 */
export class CoordinatorServer implements Delivery {
  private readonly router: Router;
  private readonly sender: OrderedSender;
  private readonly serial = new Serial();
  private readonly run: RunCoordinator;
  /** Bytes this coordinator sent (once delivered to ZeroMQ) and received, all frames and messages of the run. */
  readonly traffic = { sentBytes: 0, receivedBytes: 0 };
  private sequence = 0;
  private queued = 0;
  private last: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private handshakes: Promise<void> | undefined;

  constructor(
    engine: CoordinatorEngine,
    lifecycle: RunLifecycle,
    private readonly options: ServerOptions,
  ) {
    this.run = new RunCoordinator(engine, lifecycle, this);
    const { description } = engine.state;
    const buckets = description.layout.count;
    // The largest message a worker may send is a Gradient: parameter_count float32 plus the envelope. Anything bigger
    // is refused by libzmq before it is allocated (maxMessageSize applies per frame).
    const largestGradient = description.parameterCount * 4 + options.limits.maxEnvelopeBytes;
    // A ROUTER silently drops what exceeds a peer's send high-water mark, so it holds two steps of UpdateBuckets (they
    // are views of shared buffers, not copies) plus the few other messages a step sends; a worker stalled longer than
    // that misses an UpdateBucket, reports STALE_STATE and is resynchronised.
    this.router = new Router({
      linger: 0,
      maxMessageSize: Math.min(options.limits.maxMessageBytes, largestGradient),
      sendHighWaterMark: 64 + 2 * buckets,
      receiveHighWaterMark: 1000 + 4 * buckets,
      ...options.socketOptions,
    });
    this.sender = new OrderedSender(this.router);
  }

  /** The endpoint actually bound (with the real port when binding port 0 or *). */
  get endpoint(): string | null {
    return this.router.lastEndpoint;
  }

  /** Binds the socket; call before {@link serve}. */
  async bind(): Promise<void> {
    try {
      await this.router.bind(this.options.bind);
    } catch (error) {
      throw new Error(
        `Cannot bind ${this.options.bind}: ${(error as Error).message}. Pass a free --bind endpoint such as tcp://*:5556.`,
      );
    }
    const { log, metrics } = this.options;
    this.handshakes = watchHandshakes(this.router.events, log, metrics).catch((error: unknown) =>
      log.warn({ err: (error as Error).message }, 'the handshake monitor stopped; refused handshakes go uncounted'),
    );
    const { engine } = this.run;
    const figures = {
      endpoint: this.endpoint,
      runId: engine.state.description.runId,
      params: engine.state.description.parameterCount,
      step: engine.step,
    };
    this.options.log.info(figures, 'coordinator listening');
  }

  /**
   * Serves workers until the last step is done (then writes the final weights) or until {@link stop}. Throws when the
   * coordinator hit an internal error.
   */
  async serve(): Promise<CoordinatorSummary> {
    const { engine } = this.run;
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = engine.state.description;
    const tickMs = Math.max(10, Math.min(heartbeatIntervalMs, heartbeatTimeoutMs / 4));
    const timer = setInterval(() => {
      this.serial.run(() => this.run.perform(engine.tick(tickMs))).catch((error: unknown) => this.fail(error as Error));
    }, tickMs);
    try {
      await this.serial.run(() => this.run.perform(engine.begin()));
      if (!this.run.done) {
        for await (const [identity, ...frames] of this.router) {
          await this.serial.run(() => this.onMessage(identity, frames));
          if (this.run.done || this.failure !== undefined) break;
        }
      }
    } finally {
      clearInterval(timer);
    }
    if (this.failure !== undefined) {
      this.router.close();
      throw this.failure;
    }
    const summary = await this.serial.run(() => this.run.summary());
    this.closeAfterFlush();
    return summary;
  }

  /** Stops the run (SIGTERM/SIGINT): see CoordinatorEngine.stop; {@link serve} then returns. Safe to call twice. */
  stop(signal: string): Promise<void> {
    return this.serial.run(async () => {
      await this.run.perform(this.run.engine.stop(signal));
      this.router.close();
    });
  }

  deliver(to: Member | Buffer, message: Outgoing): void {
    const stranger = Buffer.isBuffer(to);
    if (stranger && this.queued > 256) return;
    this.sequence = nextSequence(this.sequence);
    const { runId } = this.run.engine.state.description;
    const envelope = { workerId: stranger ? 0 : to.id, sequence: this.sequence, runId, ...message.body };
    const frames = encodeMessage(envelope, message.tensors, this.options.limits);
    const bytes = frames.reduce((sum, frame) => sum + frame.byteLength, 0);
    this.queued += 1;
    this.last = this.sender
      .send([stranger ? to : to.identity, ...frames])
      .then(
        () => {
          this.traffic.sentBytes += bytes;
          this.options.metrics?.addSentBytes(bytes);
        },
        (error: unknown) => this.options.log.warn({ err: (error as Error).message }, 'send failed'),
      )
      .finally(() => {
        this.queued -= 1;
      });
  }

  drain(): Promise<void> {
    return this.last;
  }

  private async onMessage(identity: Buffer, frames: Buffer[]): Promise<void> {
    const bytes = frames.reduce((sum, frame) => sum + frame.byteLength, identity.byteLength);
    this.traffic.receivedBytes += bytes;
    this.options.metrics?.addReceivedBytes(bytes);
    const { engine } = this.run;
    let message: DecodedMessage;
    try {
      message = decodeMessage(frames, this.options.limits);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      return this.run.perform(engine.malformed(identity, error));
    }
    await this.run.perform(engine.receive(identity, message));
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
}
