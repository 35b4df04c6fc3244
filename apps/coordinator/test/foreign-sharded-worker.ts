// The sharded topology as someone in another language would implement it from docs/protocol.md ("Sharded topology")
// alone: a ROUTER for the peers' messages, a DEALER per peer, parts to owners, the float64 reduce, forwarding.
import { Router } from 'zeromq';
import { wire, type StepStart } from '@ddpm/protocol';
import { checksumOf, decode, floatBytes, floatsOf, ForeignPeer, type Received } from './foreign-peer.ts';
import { ForeignReplica, hello } from './foreign-replica.ts';

const { DType, Phase, UpdateKind } = wire;

interface Part {
  readonly workerId: number;
  readonly samples: number;
  readonly loss: number;
  readonly allFinite: boolean;
  readonly nonFiniteCount: number;
  readonly parameterChecksum: number;
  readonly gradient: Float32Array;
}

/**
 * A foreign worker of the sharded topology that contributes the gradient its replica's `value` gives. {@link step} takes part in one step and
 * returns the reduced means it sent the coordinator, by bucket, for the test to check.
 */
export class ForeignShardedWorker {
  readonly replica: ForeignReplica;
  private readonly router = new Router({ linger: 0 });
  private readonly inbox: Received[] = [];
  private readonly peers = new Map<number, ForeignPeer>();
  private loop: Promise<void> | undefined;

  private constructor(coordinator: string, value: (index: number, step: number) => number) {
    this.replica = new ForeignReplica(new ForeignPeer(coordinator), value);
  }

  /** Binds the peer ROUTER at `peerEndpoint`, says Hello and waits for the Welcome; `value` as for ForeignReplica. */
  static async join(
    coordinator: string,
    peerEndpoint: string,
    name: string,
    value: (index: number, step: number) => number,
  ): Promise<ForeignShardedWorker> {
    const worker = new ForeignShardedWorker(coordinator, value);
    await worker.router.bind(peerEndpoint);
    worker.loop = worker.receive();
    await worker.replica.peer.send({ hello: { ...hello(name).hello, peerEndpoint } });
    await worker.replica.expect('welcome');
    return worker;
  }

  private async receive(): Promise<void> {
    try {
      for await (const [, head, ...frames] of this.router) this.inbox.push(decode(head, frames));
    } catch (error) {
      if (!this.router.closed) throw error;
    }
  }

  /** One step: its StepStart, parts to owners, the reduce of the owned buckets, forwarding, the Update. */
  async step(): Promise<{ step: number; means: Map<number, Float32Array> }> {
    const { replica } = this;
    const start = (await replica.expect('stepStart')).envelope.stepStart as StepStart;
    const self = replica.peer.workerId;
    this.connect(start);
    const owned = new Map<number, Part[]>();
    const means = new Map<number, Float32Array>();
    const buckets = replica.starts.length;
    for (let bucket = buckets - 1; bucket >= 0; bucket--) {
      const [from, to] = this.range(bucket);
      const part: Part = {
        ...{ workerId: self, samples: start.indices.length, loss: 0.25, allFinite: true, nonFiniteCount: 0 },
        ...{ parameterChecksum: checksumOf(replica.params), gradient: replica.gradientOf(bucket) },
      };
      const owner = start.bucketOwners[bucket];
      if (owner === self) await this.add(owned, start, bucket, part, means);
      else {
        const { samples, loss, allFinite, parameterChecksum } = part;
        const body = { step: start.step, attempt: start.attempt, bucket, samples, loss, allFinite, parameterChecksum };
        const tensor = { name: 'gradient', shape: [to - from], dtype: DType.FLOAT32, bytes: floatBytes(part.gradient) };
        await this.peers.get(owner)?.send({ gradient: body }, [tensor]);
      }
    }
    await replica.peer.send({ heartbeat: { sentAtUnixMs: Date.now(), step: start.step, phase: Phase.WAITING } });
    const arrived = new Set<number>();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const fromPeer = this.inbox.shift();
      if (fromPeer?.envelope.body === 'gradient') {
        const g = fromPeer.envelope.gradient as NonNullable<typeof fromPeer.envelope.gradient>;
        const gradient = floatsOf(fromPeer.tensors.get('gradient')?.bytes ?? new Uint8Array(0));
        const part = { ...g, workerId: fromPeer.envelope.workerId, gradient } as unknown as Part;
        if (g.step === start.step && g.attempt === start.attempt)
          await this.add(owned, start, g.bucket ?? 0, part, means);
      } else if (fromPeer?.envelope.body === 'updateBucket') {
        replica.apply(fromPeer);
        arrived.add(fromPeer.envelope.updateBucket?.bucket ?? -1);
      }
      const fromCoordinator = replica.peer.take();
      if (fromCoordinator?.envelope.body === 'updateBucket') {
        replica.apply(fromCoordinator);
        arrived.add(fromCoordinator.envelope.updateBucket?.bucket ?? -1);
        const others = start.peers.filter((p) => p.workerId !== self).map((p) => this.peers.get(p.workerId ?? 0));
        const frames = [...fromCoordinator.tensors].map(([name, t]) => ({ name, ...t, dtype: DType.FLOAT32 }));
        for (const peer of others) await peer?.send({ updateBucket: fromCoordinator.envelope.updateBucket }, frames);
      } else if (fromCoordinator?.envelope.body === 'update') {
        const update = fromCoordinator.envelope.update;
        // BUCKETS: wait for every bucket, the owners' forwarded ones included; otherwise apply at once.
        while (update?.kind === UpdateKind.BUCKETS && !update.skipped && arrived.size < buckets)
          await this.forwardedBucket(arrived);
        replica.apply(fromCoordinator);
        return { step: start.step, means };
      } else if (fromCoordinator !== undefined) replica.apply(fromCoordinator);
      if (fromPeer === undefined && fromCoordinator === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`the foreign sharded worker timed out in step ${start.step}`);
  }

  private async forwardedBucket(arrived: Set<number>): Promise<void> {
    const message = this.inbox.shift();
    if (message?.envelope.body === 'updateBucket') {
      this.replica.apply(message);
      arrived.add(message.envelope.updateBucket?.bucket ?? -1);
    } else await new Promise((r) => setTimeout(r, 5));
  }

  /** Keeps a part of an owned bucket; once every peer's arrived, sends the ReducedGradient (float64 sum, rounded once). */
  private async add(
    owned: Map<number, Part[]>,
    start: StepStart,
    bucket: number,
    part: Part,
    means: Map<number, Float32Array>,
  ): Promise<void> {
    const parts = owned.get(bucket) ?? [];
    owned.set(bucket, [...parts, part]);
    if (parts.length + 1 < start.peers.length) return;
    const ordered = start.peers.map((p) => owned.get(bucket)?.find((q) => q.workerId === p.workerId) as Part);
    const sum = new Float64Array(part.gradient.length);
    let samples = 0;
    for (const q of ordered) {
      for (let i = 0; i < sum.length; i++) sum[i] += q.samples * q.gradient[i];
      samples += q.samples;
    }
    const inverse = 1 / samples;
    const mean = Float32Array.from(sum, (x) => x * inverse);
    means.set(bucket, mean);
    const contributions = ordered.map(({ gradient: _, ...c }) => c);
    const tensor = { name: 'gradient', shape: [mean.length], dtype: DType.FLOAT32, bytes: floatBytes(mean) };
    const body = { step: start.step, attempt: start.attempt, bucket, contributions };
    await this.replica.peer.send({ reducedGradient: body }, [tensor]);
  }

  private range(bucket: number): [number, number] {
    const { starts, params } = this.replica;
    return [starts[bucket], bucket + 1 < starts.length ? starts[bucket + 1] : params.length];
  }

  /** A DEALER to every other peer of the step, under this worker's id and run. */
  private connect(start: StepStart): void {
    for (const peer of start.peers) {
      const id = peer.workerId ?? 0;
      if (id === this.replica.peer.workerId || this.peers.has(id)) continue;
      const dealer = new ForeignPeer(peer.endpoint ?? '');
      dealer.workerId = this.replica.peer.workerId;
      dealer.runId = this.replica.peer.runId;
      this.peers.set(id, dealer);
    }
  }

  async close(): Promise<void> {
    this.router.close();
    await this.loop;
    await Promise.all([this.replica.peer.close(), ...[...this.peers.values()].map((p) => p.close())]);
  }
}
