import test, { type ExecutionContext } from 'ava';
import { Rng } from '@ddpm/diffusion-core';
import { BucketLayout } from './bucket-layout.ts';
import { bucketStarts } from './gradient-buckets.ts';

/** Offsets where the tensors start, plus the total: the only places a bucket may begin or end. */
function boundaries(sizes: readonly number[]): Set<number> {
  const result = new Set<number>([0]);
  let offset = 0;
  for (const size of sizes) result.add((offset += size));
  return result;
}

/** Bucket index of each tensor with elements (zero-size tensors have none). */
function bucketsOfTensors(starts: readonly number[], sizes: readonly number[]): number[] {
  let offset = 0;
  return sizes.map((size) => {
    const bucket = starts.filter((start) => start <= offset).length - 1;
    offset += size;
    return size === 0 ? -1 : bucket;
  });
}

function checkInvariants(t: ExecutionContext, sizes: readonly number[], capBytes: number): number[] {
  const starts = bucketStarts(sizes, capBytes);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const where = `sizes [${sizes.join(', ')}], cap ${capBytes}: starts [${starts.join(', ')}]`;
  t.is(starts[0], 0, where);
  const onBoundary = boundaries(sizes);
  let covered = 0;
  for (let b = 0; b < starts.length; b++) {
    const { start, end } = new BucketLayout(starts, total).range(b);
    t.is(start, covered, `${where}: bucket ${b} starts where the previous one ends`);
    t.true(end > start || total === 0, `${where}: bucket ${b} is not empty`);
    t.true(onBoundary.has(start) && onBoundary.has(end), `${where}: bucket ${b} falls on tensor boundaries`);
    if (b > 0) t.true((end - start) * 4 >= capBytes, `${where}: bucket ${b} holds at least the cap`);
    covered = end;
  }
  t.is(covered, total, `${where}: the buckets cover the buffer exactly`);
  // A tensor that fills the cap on its own ends its bucket (no tensor after it waits in it), except in the last bucket.
  const bucketOf = bucketsOfTensors(starts, sizes);
  let offset = 0;
  sizes.forEach((size, i) => {
    offset += size;
    if (size * 4 < capBytes || bucketOf[i] === starts.length - 1) return;
    t.is(
      new BucketLayout(starts, total).range(bucketOf[i]).end,
      offset,
      `${where}: tensor ${i} (${size} elements) ends its bucket`,
    );
  });
  return starts;
}

test('buckets cover the buffer exactly, on tensor boundaries, and all but the first hold at least the cap', (t) => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const count = rng.int(40);
    // Mostly small tensors, some zero-size, some far above the cap.
    const sizes = Array.from({ length: count }, () => {
      const kind = rng.int(10);
      return kind === 0 ? 0 : kind === 1 ? 200 + rng.int(2000) : rng.int(60);
    });
    checkInvariants(t, sizes, 4 * (1 + rng.int(300)));
  }
});

test('grouping starts from the last tensor, so the lowest-offset bucket is the one left under the cap', (t) => {
  // 4 bytes each: a 12-byte cap takes three tensors, walking from the end.
  t.deepEqual(bucketStarts([1, 1, 1, 1, 1, 1, 1], 12), [0, 1, 4]);
  t.deepEqual(bucketStarts([1, 1, 1, 1, 1, 1], 12), [0, 3]);
  t.deepEqual(bucketStarts([5, 5], 1e9), [0], 'everything fits one bucket under a large cap');
  t.deepEqual(bucketStarts([], 16), [0]);
  t.deepEqual(new BucketLayout([0], 0).range(0), { start: 0, end: 0 });
});

test('a tensor at least as large as the cap stands alone; smaller ones open before it join the bucket above', (t) => {
  // Walk: [3,3] closes at offset 12 (24 bytes >= 16); 2 is open; 50 is oversized: 2 joins the bucket above, 50 alone.
  const sizes = [1, 50, 2, 3, 3];
  const starts = checkInvariants(t, sizes, 16);
  t.deepEqual(starts, [0, 1, 51]);
  t.deepEqual(bucketsOfTensors(starts, sizes), [0, 1, 2, 2, 2]);
  t.deepEqual(
    new BucketLayout(starts, 59).range(1),
    { start: 1, end: 51 },
    'the oversized tensor is a bucket by itself',
  );
  // Several oversized tensors in a row: one bucket each.
  t.deepEqual(bucketStarts([100, 100, 100], 16), [0, 100, 200]);
  // Small tensors squeezed between two oversized ones cannot form a bucket of the cap: they join the one above.
  t.deepEqual(bucketStarts([100, 1, 100, 100], 16), [0, 100, 201]);
  // The exception: nothing closed yet above it, so the last tensors share the oversized tensor's bucket rather than
  // form a bucket under the cap.
  t.deepEqual(bucketStarts([1, 50, 2], 16), [0, 1]);
});

test('zero-size tensors join a neighbouring bucket and never make an empty one', (t) => {
  const starts = checkInvariants(t, [0, 4, 0, 0, 4, 0], 16);
  t.deepEqual(starts, [0, 4]);
  t.deepEqual(checkInvariants(t, [0, 0, 0], 4), [0]);
});

test('bad input is refused with a RangeError that says what to pass', (t) => {
  for (const cap of [0, -4, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(
      () => bucketStarts([1, 2], cap),
      { instanceOf: RangeError, message: /positive, finite number of bytes/ },
      String(cap),
    );
  }
  for (const size of [-1, 1.5, Number.NaN]) {
    t.throws(
      () => bucketStarts([3, size], 16),
      { instanceOf: RangeError, message: /parameterSizes\[1\] is .*non-negative integers/ },
      String(size),
    );
  }
  for (const bucket of [-1, 2, 0.5]) {
    t.throws(
      () => new BucketLayout([0, 4], 8).range(bucket),
      { instanceOf: RangeError, message: /buckets are 0 to 1/ },
      String(bucket),
    );
  }
});
