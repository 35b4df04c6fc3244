import test from 'ava';
import { BucketLayout } from '@ddpm/training';
import { assignBucketOwners, ownedParameters } from './bucket-owners.ts';

test('every bucket gets an owner among the workers, and the shares differ by at most one bucket', (t) => {
  const sizes = [900, 10, 400, 400, 300, 250, 250, 100, 90, 80, 70, 60];
  const layout = BucketLayout.forParameters(sizes, 1); // one tensor per bucket
  t.is(layout.count, sizes.length);
  const workers = [7, 3, 12];
  const owners = assignBucketOwners(layout, workers);
  t.is(owners.length, layout.count);
  for (const owner of owners) t.true(workers.includes(owner));
  const shares = ownedParameters(layout, owners, workers);
  t.is(
    shares.reduce((a, b) => a + b, 0),
    layout.total,
  );
  t.true(Math.max(...shares) - Math.min(...shares) <= Math.max(...sizes));
  t.true(Math.max(...shares) <= layout.total / workers.length + Math.max(...sizes));
});

test('the assignment is a function of its inputs (every replica and the coordinator agree)', (t) => {
  const layout = BucketLayout.forParameters([5, 5, 5, 5, 5, 5, 5], 1);
  t.deepEqual(assignBucketOwners(layout, [1, 2, 3]), assignBucketOwners(layout, [1, 2, 3]));
  // Equal sizes go round the workers in order.
  t.deepEqual(assignBucketOwners(layout, [1, 2, 3]), [1, 2, 3, 1, 2, 3, 1]);
});

test('more workers than buckets: some own nothing; no workers is a bug', (t) => {
  const layout = BucketLayout.forParameters([5, 5], 1);
  t.deepEqual(assignBucketOwners(layout, [4, 5, 6]), [4, 5]);
  t.throws(() => assignBucketOwners(layout, []), { message: /no workers/ });
});
