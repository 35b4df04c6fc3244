import test from 'ava';
import { epochPermutation, shardEpoch, shardSize, splitGlobalBatch } from './sharding.ts';

function isPermutation(order: ArrayLike<number>, count: number): boolean {
  const seen = new Uint8Array(count);
  for (let i = 0; i < order.length; i++) {
    if (order[i] >= count || seen[order[i]] === 1) return false;
    seen[order[i]] = 1;
  }
  return order.length === count;
}

test('epochPermutation is a seeded permutation that changes with the epoch and the seed', (t) => {
  const a = epochPermutation(42, 0, 1000);
  t.true(isPermutation(a, 1000));
  t.deepEqual(epochPermutation(42, 0, 1000), a);
  const sameAsA = (other: Uint32Array): boolean => other.every((v, i) => v === a[i]);
  t.false(sameAsA(epochPermutation(42, 1, 1000)), 'a new epoch reshuffles');
  t.false(sameAsA(epochPermutation(43, 0, 1000)), 'another seed reshuffles');
  t.false(sameAsA(Uint32Array.from({ length: 1000 }, (_, i) => i)), 'it is shuffled at all');
  t.deepEqual(Array.from(epochPermutation(7, 3, 1)), [0]);
});

test('epochPermutation is uniform: every value lands first about equally often, fixed points included', (t) => {
  // Over 6000 epochs of 6 examples each first-position value is expected 1000 times (sd ~ 29). An off-by-one
  // in Fisher-Yates (Sattolo's cycle) would never leave 0 first; a biased draw would skew the counts.
  const counts = new Array<number>(6).fill(0);
  for (let epoch = 0; epoch < 6000; epoch++) counts[epochPermutation(1, epoch, 6)[0]] += 1;
  for (const c of counts) t.true(Math.abs(c - 1000) < 150, `counts ${counts.join(',')}`);
});

test('epochPermutation rejects invalid arguments', (t) => {
  t.throws(() => epochPermutation(-1, 0, 10), { message: /seed must be an integer in \[0, 2\^32\)/ });
  t.throws(() => epochPermutation(1, 0.5, 10), { message: /epoch must be a non-negative integer/ });
  t.throws(() => epochPermutation(1, 0, 0), { message: /count must be the dataset size/ });
});

test('shardEpoch matches torch DistributedSampler(shuffle=False) on 10 examples and 3 workers', (t) => {
  const identity = Uint32Array.from({ length: 10 }, (_, i) => i);
  // torch: indices += indices[:2]; rank r takes indices[r:12:3].
  t.deepEqual(Array.from(shardEpoch(identity, 3, 0)), [0, 3, 6, 9]);
  t.deepEqual(Array.from(shardEpoch(identity, 3, 1)), [1, 4, 7, 0]);
  t.deepEqual(Array.from(shardEpoch(identity, 3, 2)), [2, 5, 8, 1]);
  // drop_last=True: indices[:9].
  t.deepEqual(Array.from(shardEpoch(identity, 3, 0, { dropLast: true })), [0, 3, 6]);
  t.deepEqual(Array.from(shardEpoch(identity, 3, 2, { dropLast: true })), [2, 5, 8]);
  // Fewer examples than workers: padding repeats the whole order.
  t.deepEqual(
    [0, 1, 2, 3, 4].map((r) => Array.from(shardEpoch(Uint32Array.of(5, 9), 5, r))),
    [[5], [9], [5], [9], [5]],
  );
});

const shardsCoverTheEpoch = test.macro({
  exec(t, count: number, workers: number) {
    for (const epoch of [0, 1]) {
      const permutation = epochPermutation(2024, epoch, count);
      for (const dropLast of [false, true]) {
        const shards = Array.from({ length: workers }, (_, rank) =>
          shardEpoch(permutation, workers, rank, { dropLast }),
        );
        const size = dropLast ? Math.floor(count / workers) : Math.ceil(count / workers);
        t.true(shards.every((s) => s.length === size && s.length === shardSize(count, workers, { dropLast })));
        const times = new Array<number>(count).fill(0);
        for (const shard of shards) {
          t.is(new Set(shard).size, shard.length, 'no example twice within one shard');
          for (const index of shard) times[index] += 1;
        }
        const seen = times.filter((n) => n > 0).length;
        const twice = times.filter((n) => n > 1).length;
        if (dropLast) {
          t.true(
            times.every((n) => n <= 1),
            'shards are disjoint',
          );
          t.is(seen, count - (count % workers), 'only the tail of the permutation is dropped');
          const dropped = new Set(permutation.subarray(count - (count % workers)));
          t.true(times.every((n, i) => (n === 0) === dropped.has(i)));
        } else if (count >= workers) {
          t.is(seen, count, 'every example is covered');
          t.is(twice, size * workers - count, 'padding repeats exactly the remainder');
          t.true(
            times.every((n, i) => n === 1 || permutation.indexOf(i) < size * workers - count),
            'the repeats are the start of the order',
          );
        } else {
          t.is(seen, count, 'every example is covered');
        }
      }
    }
  },
  title: (_ = '', count: number, workers: number) =>
    `shards of ${count} examples over ${workers} workers are disjoint and cover the epoch`,
});

for (const [count, workers] of [
  [12, 4],
  [10, 3],
  [10, 4],
  [7, 4],
  [101, 8],
  [3, 5],
  [1, 1],
  [1000, 7],
]) {
  test(shardsCoverTheEpoch, count, workers);
}

test('splitGlobalBatch gives near-equal contiguous local batches in rank order', (t) => {
  const batch = Uint32Array.from({ length: 10 }, (_, i) => 100 + i);
  const parts = splitGlobalBatch(batch, 4);
  t.deepEqual(
    parts.map((p) => p.length),
    [3, 3, 2, 2],
  );
  t.deepEqual(
    parts.flatMap((p) => Array.from(p)),
    Array.from(batch),
  );
  t.deepEqual(
    splitGlobalBatch(Uint32Array.of(1), 3).map((p) => p.length),
    [1, 0, 0],
  );
  t.throws(() => splitGlobalBatch(batch, 0), { message: /workers must be a positive integer/ });
  t.throws(() => shardEpoch(batch, 2, 2), { message: /rank must be an integer in \[0, 2\)/ });
});
