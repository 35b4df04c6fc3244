/**
 * Which gradient buckets of one step are complete. A bucket is complete once every expected worker (one given samples
 * this step and not lost since) has sent its part of it; workers send their buckets in any order and independently
 * of each other, so some buckets complete while others still wait.
 *
 * Promises: each bucket is reported complete exactly once (by {@link takeComplete}); losing a worker completes the
 * buckets that only waited for it; memory is one set of worker ids per bucket.
 * Does not: hold gradients (GradientReducer does) or know whether a part was finite.
 */
export class BucketBarrier {
  private readonly expected = new Set<number>();
  private readonly senders: Set<number>[];
  private readonly taken: boolean[];
  /** Worker id → how many of its parts were recorded. */
  private readonly parts = new Map<number, number>();

  constructor(readonly buckets: number) {
    this.senders = Array.from({ length: buckets }, () => new Set<number>());
    this.taken = new Array<boolean>(buckets).fill(false);
  }

  /** Every bucket waits for `worker` (call when its StepStart goes out). */
  expect(worker: number): void {
    this.expected.add(worker);
  }

  /** Records `worker`'s part of `bucket`; false when it was recorded already (a duplicate). */
  record(worker: number, bucket: number): boolean {
    const senders = this.senders[bucket];
    if (senders.has(worker)) return false;
    senders.add(worker);
    this.parts.set(worker, (this.parts.get(worker) ?? 0) + 1);
    return true;
  }

  /** True when `worker`'s part of `bucket` was recorded. */
  has(worker: number, bucket: number): boolean {
    return this.senders[bucket].has(worker);
  }

  /** How many buckets `worker` has sent. */
  partsFrom(worker: number): number {
    return this.parts.get(worker) ?? 0;
  }

  /** No bucket waits for `worker` any more (it was lost); parts it already sent stay recorded. */
  forget(worker: number): void {
    this.expected.delete(worker);
  }

  /** The buckets that became complete since the last call, ascending; each bucket is returned once. */
  takeComplete(): number[] {
    const complete: number[] = [];
    for (let bucket = 0; bucket < this.buckets; bucket++) {
      if (this.taken[bucket]) continue;
      const senders = this.senders[bucket];
      let ready = true;
      for (const worker of this.expected) {
        if (!senders.has(worker)) {
          ready = false;
          break;
        }
      }
      if (!ready) continue;
      this.taken[bucket] = true;
      complete.push(bucket);
    }
    return complete;
  }
}
