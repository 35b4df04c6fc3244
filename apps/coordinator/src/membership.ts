/** One worker as the coordinator knows it. */
export interface Member {
  /** Stable id handed out in Welcome; also the `worker` metric label. */
  readonly id: number;
  /** The ZeroMQ routing id of its DEALER connection. */
  readonly identity: Buffer;
  readonly name: string;
  readonly backend: string;
  /** False when the worker has no copy of the dataset and gets its samples inline. */
  readonly hasDataset: boolean;
  /** 'pending' until it was sent the current state at a step boundary, then 'active'. */
  state: 'pending' | 'active';
  lastSeenMs: number;
}

/**
 * The workers of a run, keyed by worker id and by ZeroMQ identity.
 * Promises: ids are never reused within a run; `active()` is ordered by id, so shard assignment is deterministic.
 * Does not: talk to sockets or decide when a worker is dead (the coordinator does).
 */
export class Membership {
  private readonly byId = new Map<number, Member>();
  private readonly idByIdentity = new Map<string, number>();
  private nextId = 1;

  /** Registers a worker that said Hello; it becomes active at the next step boundary. */
  add(identity: Buffer, name: string, backend: string, hasDataset: boolean, nowMs: number): Member {
    const member: Member = { id: this.nextId++, identity: Buffer.from(identity), name, backend, hasDataset, state: 'pending', lastSeenMs: nowMs };
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
    return [...this.byId.values()].filter((m) => m.state === 'active').sort((a, b) => a.id - b.id);
  }

  pending(): Member[] {
    return [...this.byId.values()].filter((m) => m.state === 'pending').sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.byId.size;
  }
}
