/**
 * Exponential backoff with jitter for reconnecting: next() returns base·2^k (capped at max) scaled by a random factor
 * in [0.5, 1], so workers that lost the same coordinator do not all knock at the same instant.
 * Does not: sleep (the caller does).
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(baseMs > 0 && maxMs >= baseMs))
      throw new RangeError(`Backoff: need 0 < baseMs <= maxMs, got ${baseMs} and ${maxMs}.`);
  }

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling * (0.5 + 0.5 * this.random());
  }

  /** Call after a successful (re)connection. */
  reset(): void {
    this.attempt = 0;
  }
}
