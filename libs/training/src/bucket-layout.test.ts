import test from 'ava';
import { BucketLayout } from './bucket-layout.ts';

test('a layout answers each bucket range, its size and count', (t) => {
  const layout = new BucketLayout([0, 3, 10], 12);
  t.is(layout.count, 3);
  t.deepEqual(layout.range(0), { start: 0, end: 3 });
  t.deepEqual(layout.range(2), { start: 10, end: 12 });
  t.is(layout.size(1), 7);
  t.deepEqual(BucketLayout.whole(5).range(0), { start: 0, end: 5 });
  t.deepEqual(BucketLayout.whole(0).range(0), { start: 0, end: 0 });
});

test('forParameters groups whole tensors (bucketStarts) over their total', (t) => {
  const layout = BucketLayout.forParameters([100, 100, 100], 16);
  t.deepEqual(layout.starts, [0, 100, 200]);
  t.is(layout.total, 300);
});

test('invalid starts are refused with the source named; unknown buckets are a RangeError', (t) => {
  for (const [starts, total] of [
    [[], 4],
    [[1], 4],
    [[0, 2, 2], 4],
    [[0, 4], 4],
    [[0, 1.5], 4],
    [[0], -1],
  ] as const) {
    t.throws(() => new BucketLayout(starts, total, 'Welcome.bucket_starts'), {
      instanceOf: RangeError,
      message: /^Welcome.bucket_starts \[.*\] do not cut .* parameters into buckets/,
    });
    t.not(BucketLayout.problem(starts, total), undefined);
  }
  const layout = new BucketLayout([0, 4], 8);
  for (const bucket of [-1, 2, 0.5]) t.throws(() => layout.range(bucket), { instanceOf: RangeError });
});
