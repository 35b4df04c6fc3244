import type { Logger } from 'pino';
import {
  DType,
  Phase,
  Topology,
  UpdateKind,
  type CurveKeyPair,
  type DecodedMessage,
  type OutgoingBody,
  type ProtocolLimits,
  type TensorInput,
} from '@ddpm/protocol';
import type { WorkerCore, WorkerLink } from '../worker/worker-core.ts';
import { PeerMesh } from './peer-mesh.ts';
import { ShardedExchange, type ExchangeSend } from './sharded-exchange.ts';

/**
 * The worker's shell around a {@link ShardedExchange}: hooks before and after the core handles each coordinator
 * message, the route of its Gradient buckets, and the peer messages from the {@link PeerMesh}. Inactive (the star)
 * until a Welcome says SHARDED.
 * Promises: an owner forwards each UpdateBucket of its buckets to every other worker of the attempt; an Update of kind
 * BUCKETS is handed to the core once every forwarded bucket arrived, or after the heartbeat timeout (the core then
 * answers STALE_STATE and the coordinator resynchronises this replica: an owner died after the step completed).
 */
export class ShardedPlane {
  private exchange: ShardedExchange | undefined;
  private peers: number[] = [];
  private wake: (() => void) | undefined;
  /** Gradient buckets of the step in progress routed so far. */
  private routed = 0;
  private mesh!: PeerMesh;

  private constructor(
    private readonly core: WorkerCore,
    private readonly coordinator: WorkerLink,
    private readonly log: Logger,
  ) {}

  static async open(
    endpoint: string,
    options: { limits: ProtocolLimits; log: Logger; curve?: CurveKeyPair },
    core: WorkerCore,
    coordinator: WorkerLink,
  ): Promise<ShardedPlane> {
    const plane = new ShardedPlane(core, coordinator, options.log);
    plane.mesh = await PeerMesh.open(endpoint, options, (from, message) => plane.fromPeer(from, message));
    return plane;
  }

  /** Where the other workers reach this one (Hello.peer_endpoint). */
  get endpoint(): string {
    return this.mesh.endpoint;
  }

  /**
   * Routes a message the core sends the coordinator: a Gradient bucket goes to its owner (undefined: not routed). Once
   * every bucket of the step has left, tells the coordinator so (Heartbeat WAITING at the step): the step deadline then
   * knows this worker is not the one holding the step up.
   */
  route(body: OutgoingBody, tensors: readonly TensorInput[]): Promise<void> | undefined {
    if (this.exchange === undefined || !('gradient' in body) || body.gradient === undefined) return undefined;
    const { step } = body.gradient;
    const sent = this.dispatch(this.exchange.own(body.gradient, tensors));
    this.routed += 1;
    if (this.routed !== this.core.replica?.layout.count) return sent;
    const handOff = { sentAtUnixMs: Date.now(), echoUnixMs: 0, step, phase: Phase.WAITING };
    return sent.then(() => this.coordinator.send({ heartbeat: handOff }, []));
  }

  /** Before the core handles `message` from the coordinator. */
  async before(message: DecodedMessage): Promise<void> {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    if (message.kind === 'stepStart') {
      const peers = message.body.peers.map((p) => ({
        workerId: p.workerId ?? 0,
        endpoint: p.endpoint ?? '',
        curvePublicKey: p.curvePublicKey ?? new Uint8Array(0),
      }));
      this.peers = peers.map((p) => p.workerId);
      this.routed = 0;
      await this.mesh.setPeers(peers);
      await this.dispatch(exchange.begin(message.body));
    } else if (message.kind === 'update' && !message.body.skipped && message.body.kind === UpdateKind.BUCKETS) {
      await this.bucketsArrived(message.body.step);
    }
  }

  /** After the core handled `message` from the coordinator. */
  async after(message: DecodedMessage): Promise<void> {
    if (message.kind === 'welcome') {
      const replica = this.core.replica;
      const { workerId, runId, topology, wireDtype } = message.body;
      this.exchange =
        topology === Topology.SHARDED && replica !== undefined
          ? new ShardedExchange(workerId, replica.layout, wireDtype === DType.BFLOAT16 ? 'bfloat16' : 'float32')
          : undefined;
      await this.mesh.identify(workerId, runId);
      return;
    }
    const exchange = this.exchange;
    if (exchange === undefined || message.kind !== 'updateBucket') return;
    const { step, attempt, bucket } = message.body;
    if (!exchange.isCurrent(step, attempt) || exchange.ownerOf(bucket) !== exchange.selfId) return;
    const tensors = message.tensors.map((t) => ({ name: t.name, data: t.data, shape: [...t.shape], crc32: t.crc32 }));
    const others = this.peers.filter((id) => id !== exchange.selfId);
    await Promise.all(others.map((id) => this.mesh.send(id, { updateBucket: message.body }, tensors)));
  }

  close(): Promise<void> {
    return this.mesh.close();
  }

  private async fromPeer(from: number, message: DecodedMessage): Promise<void> {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    if (message.kind === 'gradient') {
      const { sends, problem } = exchange.part(from, message);
      if (problem !== undefined) this.log.warn({ from, step: message.body.step }, `dropped ${problem}`);
      return this.dispatch(sends);
    }
    if (message.kind === 'updateBucket') {
      const { step, attempt, bucket } = message.body;
      if (!exchange.isCurrent(step, attempt) || exchange.ownerOf(bucket) !== from) return;
      await this.core.handle(message);
      this.wake?.();
      return;
    }
    this.log.warn({ from, kind: message.kind }, 'dropped a peer message of a kind peers do not send');
  }

  private async bucketsArrived(step: number): Promise<void> {
    const replica = this.core.replica;
    if (replica === undefined) return;
    const deadline = performance.now() + replica.heartbeatTimeoutMs;
    while (replica.step === step && replica.missingBuckets > 0 && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.wake = undefined;
  }

  private async dispatch(sends: readonly ExchangeSend[]): Promise<void> {
    await Promise.all(
      sends.map((s) =>
        s.to === 'peer' ? this.mesh.send(s.peer, s.body, s.tensors) : this.coordinator.send(s.body, s.tensors),
      ),
    );
  }
}
