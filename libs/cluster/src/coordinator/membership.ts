/** One worker as the coordinator knows it. */
export interface Member {
  /** Stable id handed out in Welcome; never reused within a run. */
  readonly id: number;
  /** The ZeroMQ routing id of its DEALER connection. */
  readonly identity: Buffer;
  /** Its --name: the `worker` metric label and the name in logs. */
  readonly name: string;
  readonly backend: string;
  /** False when the worker has no copy of the dataset and gets its samples inline. */
  readonly hasDataset: boolean;
  /** 'pending' until it was sent the current state (Welcome) at a step boundary, then 'active'. */
  state: 'pending' | 'active';
  /** Date.now() of the last message received from it. */
  lastSeenMs: number;
  /** Date.now() of the last message sent to it (heartbeats fill the gaps). */
  lastSentMs: number;
  /** Envelope.sequence of the last message accepted from it; the next must be nextSequence(lastSequence). */
  lastSequence: number;
  /** Hello.peer_endpoint and Hello.curve_public_key: how the other workers reach it (sharded topology). */
  readonly peer?: { readonly endpoint: string; readonly curvePublicKey: Uint8Array };
}

/**
 * The workers of a run, keyed by worker id and by ZeroMQ identity.
 * Promises: ids are never reused within a run; `active()` is ordered by id, so shard assignment is deterministic.
 * Does not: talk to sockets or decide when a worker is dead (the coordinator does).
 */
export class Membership {
  private readonly byId = new Map<number, Member>();
  private readonly idByIdentity = new Map<string, number>();
  private nextId: number;

  /**
   * `firstId` is 1 for a new run. A coordinator resumed from a checkpoint starts elsewhere (a random base), so a worker
   * id handed out by its predecessor is not given to another worker while the old holder may still reconnect.
   */
  constructor(firstId = 1) {
    if (!Number.isInteger(firstId) || firstId < 1 || firstId > 0xffff0000)
      throw new RangeError(`Membership: firstId must be an integer in [1, 2^32 - 65536], got ${firstId}.`);
    this.nextId = firstId;
  }

  /** Registers a worker that said Hello; it becomes active at the next step boundary. */
  add(
    identity: Buffer,
    fields: Pick<Member, 'name' | 'backend' | 'hasDataset' | 'peer'> & { sequence: number },
    nowMs: number,
  ): Member {
    const member: Member = {
      id: this.nextId++,
      identity: Buffer.from(identity),
      name: fields.name,
      backend: fields.backend,
      hasDataset: fields.hasDataset,
      state: 'pending',
      lastSeenMs: nowMs,
      lastSentMs: nowMs,
      lastSequence: fields.sequence,
      peer: fields.peer,
    };
    this.byId.set(member.id, member);
    this.idByIdentity.set(identity.toString('hex'), member.id);
    return member;
  }

  /** The member behind a ZeroMQ identity, if any. */
  byIdentity(identity: Buffer): Member | undefined {
    const id = this.idByIdentity.get(identity.toString('hex'));
    return id === undefined ? undefined : this.byId.get(id);
  }

  get(id: number): Member | undefined {
    return this.byId.get(id);
  }

  remove(id: number): Member | undefined {
    const member = this.byId.get(id);
    if (member === undefined) return undefined;
    this.byId.delete(id);
    this.idByIdentity.delete(member.identity.toString('hex'));
    return member;
  }

  active(): Member[] {
    return this.all().filter((m) => m.state === 'active');
  }

  pending(): Member[] {
    return this.all().filter((m) => m.state === 'pending');
  }

  /** Every member, ordered by id. */
  all(): Member[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * Treats every member as heard from at `nowMs` at the latest. Called after the coordinator itself was blocked (a
   * checkpoint write, a sample grid), so that messages still queued in ZeroMQ do not look like missed heartbeats.
   */
  forgive(nowMs: number): void {
    for (const member of this.byId.values()) member.lastSeenMs = Math.max(member.lastSeenMs, nowMs);
  }

  get size(): number {
    return this.byId.size;
  }
}
