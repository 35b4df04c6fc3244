import { Dealer, Router } from 'zeromq';
import type { Logger } from 'pino';
import {
  decodeMessage,
  encodeMessage,
  isProtocolError,
  nextSequence,
  type CurveKeyPair,
  type DecodedMessage,
  type OutgoingBody,
  type ProtocolLimits,
  type TensorInput,
} from '@ddpm/protocol';
import { z85Encode } from '../coordinator/z85.ts';
import { ZapHandler } from '../coordinator/zap-handler.ts';
import { OrderedSender } from '../transport/ordered-sender.ts';

/**
 * How long a CURVE handshake from a key that is not a peer yet waits for a StepStart naming it before it is refused
 * (libzmq does not reconnect after a refusal, so a peer that read its StepStart first must not be refused).
 */
const PEER_ADMISSION_GRACE_MS = 10_000;

/** Another worker of the step, as StepStart.peers names it. */
export interface PeerAddress {
  readonly workerId: number;
  readonly endpoint: string;
  readonly curvePublicKey: Uint8Array;
}

interface Connection {
  readonly endpoint: string;
  readonly socket: Dealer;
  readonly sender: OrderedSender;
  sequence: number;
}

/**
 * A worker's connections to the other workers (sharded topology): one ROUTER bound at --peer-endpoint that receives,
 * and one DEALER per peer that sends. With CURVE the ROUTER is a CURVE server with the worker's own key pair and
 * admits only the public keys of its current peers (a ZAP handler in this process); DEALERs authenticate the peer by
 * the key the coordinator handed out. Every received message goes through the same frame checks as the coordinator's
 * (decodeMessage with the run's limits) and must name this run; a connection keeps the worker id it first claimed
 * (ShardedExchange then takes parts only from the step's peers).
 * Does not: decide what to send (ShardedExchange) or reconnect by itself beyond libzmq's own reconnects.
 */
export class PeerMesh {
  private readonly router: Router;
  private readonly connections = new Map<number, Connection>();
  private readonly allowed = new Set<string>();
  private readonly claimed = new Map<string, number>();
  private zap: ZapHandler | undefined;
  private loop: Promise<void> | undefined;
  private self = 0;
  private runId = '';
  /** Peer messages that arrived before this worker's Welcome (a faster peer starts the step first); bounded. */
  private beforeWelcome: DecodedMessage[] = [];
  private deliver: (from: number, message: DecodedMessage) => Promise<void> = () => Promise.resolve();

  private constructor(
    private readonly options: {
      readonly limits: ProtocolLimits;
      readonly log: Logger;
      readonly curve?: CurveKeyPair;
    },
  ) {
    const curve = options.curve;
    this.router = new Router({
      ...{ linger: 0, maxMessageSize: options.limits.maxMessageBytes, receiveHighWaterMark: 0, sendHighWaterMark: 0 },
      ...(curve === undefined
        ? {}
        : { curveServer: true, curveSecretKey: curve.secretKey, curvePublicKey: curve.publicKey }),
    });
  }

  /** Binds `endpoint` (port 0 picks a free one) and starts receiving into `deliver`. */
  static async open(
    endpoint: string,
    options: { limits: ProtocolLimits; log: Logger; curve?: CurveKeyPair },
    deliver: (from: number, message: DecodedMessage) => Promise<void>,
  ): Promise<PeerMesh> {
    const mesh = new PeerMesh(options);
    if (options.curve !== undefined) {
      const refusal = 'is not a peer of the current step';
      mesh.zap = new ZapHandler(mesh.allowed, options.log, refusal, PEER_ADMISSION_GRACE_MS);
      await mesh.zap.start();
    }
    await mesh.router.bind(endpoint);
    mesh.deliver = deliver;
    mesh.loop = mesh.receive();
    return mesh;
  }

  /** The endpoint the other workers connect to (with the real port). */
  get endpoint(): string {
    return this.router.lastEndpoint ?? '';
  }

  /** Who this worker is in which run (from its Welcome): the header of what it sends, the run of what it accepts. */
  async identify(workerId: number, runId: string): Promise<void> {
    // A rejoin under a new id: peers keep the id a connection first claimed, so the old connections must go.
    if (workerId !== this.self) this.closeConnections();
    this.self = workerId;
    this.runId = runId;
    const early = this.beforeWelcome;
    this.beforeWelcome = [];
    for (const message of early)
      if (message.envelope.runId === runId) await this.deliver(message.envelope.workerId, message);
  }

  /**
   * The peers of the step: connects to new ones, closes connections to those gone, admits only their keys (and
   * admits the handshakes held for keys that are now peers).
   */
  setPeers(peers: readonly PeerAddress[]): Promise<void> {
    const wanted = new Map(peers.filter((p) => p.workerId !== this.self).map((p) => [p.workerId, p]));
    for (const [id, connection] of this.connections) {
      if (wanted.get(id)?.endpoint === connection.endpoint) continue;
      connection.socket.close();
      this.connections.delete(id);
    }
    this.allowed.clear();
    const curve = this.options.curve;
    for (const [id, peer] of wanted) {
      if (peer.curvePublicKey.length === 32) this.allowed.add(z85Encode(peer.curvePublicKey));
      if (this.connections.has(id)) continue;
      const keys =
        curve === undefined
          ? {}
          : {
              curveServerKey: z85Encode(peer.curvePublicKey),
              curvePublicKey: curve.publicKey,
              curveSecretKey: curve.secretKey,
            };
      const socket = new Dealer({ linger: 0, sendHighWaterMark: 0, ...keys });
      socket.connect(peer.endpoint);
      this.connections.set(id, { endpoint: peer.endpoint, socket, sender: new OrderedSender(socket), sequence: 0 });
    }
    return this.zap?.recheck() ?? Promise.resolve();
  }

  /** Sends to peer `to`, in call order per peer; resolves when queued. */
  send(to: number, body: OutgoingBody, tensors: readonly TensorInput[]): Promise<void> {
    const connection = this.connections.get(to);
    if (connection === undefined) return Promise.reject(new Error(`worker ${to} is not a peer of this step`));
    connection.sequence = nextSequence(connection.sequence);
    const header = { workerId: this.self, runId: this.runId, sequence: connection.sequence };
    return connection.sender.send(encodeMessage({ ...header, ...body }, tensors, this.options.limits));
  }

  async close(): Promise<void> {
    this.closeConnections();
    this.router.close();
    await this.loop;
    await this.zap?.close();
  }

  private closeConnections(): void {
    for (const connection of this.connections.values()) connection.socket.close();
    this.connections.clear();
  }

  private async receive(): Promise<void> {
    const { log, limits } = this.options;
    try {
      for await (const [identity, ...frames] of this.router) {
        let message: DecodedMessage;
        try {
          message = decodeMessage(frames, limits);
        } catch (error) {
          if (!isProtocolError(error)) throw error;
          log.warn({ code: error.codeName, reason: error.message }, 'rejected a malformed message from a peer');
          continue;
        }
        const from = message.envelope.workerId;
        if (this.runId === '') {
          if (this.beforeWelcome.length < 65536) this.beforeWelcome.push(message);
          continue;
        }
        const key = identity.toString('hex');
        const claimed = this.claimed.get(key) ?? from;
        // A peer of a step whose StepStart has not reached this worker yet may already send (ShardedExchange keeps it).
        if (message.envelope.runId !== this.runId || claimed !== from || from === 0) {
          log.warn({ from, claimed, kind: message.kind }, 'dropped a peer message: another run, or not a peer');
          continue;
        }
        this.claimed.set(key, from);
        // What the message leads to may fail (the coordinator's socket closed while reconnecting or stopping): the
        // step is then redone or resynchronised by the coordinator; the peer connections must stay up.
        await this.deliver(from, message).catch((error: unknown) =>
          log.warn({ from, kind: message.kind, error: String(error) }, 'could not act on a peer message; dropped it'),
        );
      }
    } catch (error) {
      if (!this.router.closed) throw error;
    }
  }
}
