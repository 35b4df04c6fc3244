import test from 'ava';
import { BucketBarrier } from './bucket-barrier.ts';

test('a bucket completes when every expected worker sent it, in any order, and is reported once', (t) => {
  const barrier = new BucketBarrier(3);
  barrier.expect(1);
  barrier.expect(2);
  t.true(barrier.record(1, 2));
  t.deepEqual(barrier.takeComplete(), []);
  t.true(barrier.record(2, 2));
  t.true(barrier.record(2, 0));
  t.deepEqual(barrier.takeComplete(), [2]);
  t.deepEqual(barrier.takeComplete(), [], 'bucket 2 is not reported again');
  t.false(barrier.record(2, 2), 'a duplicate part is refused');
  t.is(barrier.partsFrom(2), 2);
  t.is(barrier.partsFrom(1), 1);
  t.true(barrier.has(1, 2));
  t.false(barrier.has(1, 0));
});

test('losing a worker completes the buckets that only waited for it; its parts stay recorded', (t) => {
  const barrier = new BucketBarrier(3);
  for (const worker of [1, 2, 3]) barrier.expect(worker);
  for (const worker of [1, 2]) for (const bucket of [0, 1, 2]) barrier.record(worker, bucket);
  barrier.record(3, 2);
  t.deepEqual(barrier.takeComplete(), [2]);
  barrier.forget(3);
  t.deepEqual(barrier.takeComplete(), [0, 1]);
  t.is(barrier.partsFrom(3), 1);
});

test('with every worker lost, every remaining bucket counts as complete (the caller finds it empty)', (t) => {
  const barrier = new BucketBarrier(2);
  barrier.expect(7);
  barrier.record(7, 1);
  t.deepEqual(barrier.takeComplete(), [1]);
  barrier.forget(7);
  t.deepEqual(barrier.takeComplete(), [0]);
});
