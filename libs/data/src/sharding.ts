import { Rng } from '@ddpm/diffusion-core';

const UINT32 = 4294967296;

/** A 32-bit bijective integer mixer (the murmur3 finaliser): distinct inputs give distinct, unrelated outputs. */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * The Rng seed of one epoch: for a fixed `seed`, distinct epochs (below 2^32) give distinct seeds, and seed s, epoch e
 * does not collide with seed s + 1, epoch e - 1 as plain addition would.
 */
export function epochSeed(seed: number, epoch: number): number {
  return mix32((mix32(seed) + epoch) >>> 0);
}

/** Throws a clear RangeError for an invalid argument; shared with EpochCursor. */
export function checkSeed(seed: number, caller: string): void {
  if (!Number.isInteger(seed) || seed < 0 || seed >= UINT32) {
    throw new RangeError(
      `${caller}: seed must be an integer in [0, 2^32), got ${seed}; use the run's configured seed.`,
    );
  }
}

/** Throws a clear RangeError for an invalid argument; shared with EpochCursor. */
export function checkEpoch(epoch: number, caller: string): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0)
    throw new RangeError(`${caller}: epoch must be a non-negative integer, got ${epoch}.`);
}

/** Throws a clear RangeError for an invalid argument; shared with EpochCursor. */
export function checkCount(count: number, caller: string): void {
  if (!Number.isInteger(count) || count < 1 || count >= UINT32) {
    throw new RangeError(`${caller}: count must be the dataset size, an integer in [1, 2^32), got ${count}.`);
  }
}

/**
 * The order in which epoch `epoch` visits the `count` examples: a Fisher-Yates shuffle of 0..count-1 drawn from an
 * {@link Rng} seeded by (seed, epoch).
 *
 * Promises: a permutation of 0..count-1; the same (seed, epoch, count) always gives the same permutation, on every
 * machine; another epoch or seed gives an unrelated one. Does not: cache (O(count) time per call).
 */
export function epochPermutation(seed: number, epoch: number, count: number): Uint32Array {
  checkSeed(seed, 'epochPermutation');
  checkEpoch(epoch, 'epochPermutation');
  checkCount(count, 'epochPermutation');
  const rng = new Rng(epochSeed(seed, epoch));
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

export interface ShardOptions {
  /** Drop the tail that does not divide evenly among the workers instead of padding. Default false. */
  readonly dropLast?: boolean;
}

/** How many examples each worker gets per epoch under {@link shardEpoch}. */
export function shardSize(count: number, workers: number, options: ShardOptions = {}): number {
  return options.dropLast === true ? Math.floor(count / workers) : Math.ceil(count / workers);
}

/**
 * The shard of one epoch that worker `rank` of `workers` processes, with PyTorch DistributedSampler semantics.
 *
 * The epoch `permutation` (length N) is made evenly divisible by the workers, then worker `rank` takes every
 * `workers`-th entry starting at `rank` (strided, as DistributedSampler):
 * - dropLast false (default): the permutation is padded by wrapping around to its start (entry i of the padded
 *   order is permutation[i % N]) up to ceil(N / workers) * workers, so up to workers - 1 examples are seen twice.
 * - dropLast true: the last N % workers entries of the permutation are dropped; each shard has floor(N / workers).
 * Promises: for a fixed permutation, the shards of ranks 0..workers-1 are disjoint slots of the (padded or truncated)
 * order and together cover it. Preconditions: workers >= 1, 0 <= rank < workers. Does not: shuffle (pass a
 * permutation from {@link epochPermutation}).
 */
export function shardEpoch(
  permutation: ArrayLike<number>,
  workers: number,
  rank: number,
  options: ShardOptions = {},
): Uint32Array {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`shardEpoch: workers must be a positive integer, got ${workers}.`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= workers) {
    throw new RangeError(`shardEpoch: rank must be an integer in [0, ${workers}) for ${workers} workers, got ${rank}.`);
  }
  const count = permutation.length;
  const size = count === 0 ? 0 : shardSize(count, workers, options);
  const shard = new Uint32Array(size);
  for (let k = 0; k < size; k++) shard[k] = permutation[(rank + k * workers) % count];
  return shard;
}

/**
 * Splits a global batch into `workers` contiguous local batches whose sizes differ by at most one: the first
 * `indices.length % workers` workers get one extra example. Promises: the parts are views of `indices` (no copy),
 * in rank order, and their concatenation is `indices`. Some parts are empty when there are fewer indices than workers.
 */
export function splitGlobalBatch(indices: Uint32Array, workers: number): Uint32Array[] {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`splitGlobalBatch: workers must be a positive integer, got ${workers}.`);
  const base = Math.floor(indices.length / workers);
  const extra = indices.length % workers;
  const parts: Uint32Array[] = [];
  let start = 0;
  for (let rank = 0; rank < workers; rank++) {
    const length = base + (rank < extra ? 1 : 0);
    parts.push(indices.subarray(start, start + length));
    start += length;
  }
  return parts;
}
