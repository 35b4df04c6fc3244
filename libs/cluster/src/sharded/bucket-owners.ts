import type { BucketLayout } from '@ddpm/training';

/**
 * Which worker reduces each bucket in the sharded topology: buckets largest first, each to the worker with the fewest
 * parameters so far (ties: the earlier in `workers`), so no worker's share exceeds the mean by more than one bucket.
 * Deterministic in its inputs. Precondition: `workers` is not empty. A worker may own nothing when there are fewer
 * buckets than workers (it still sends its parts and forwards nothing).
 */
export function assignBucketOwners(layout: BucketLayout, workers: readonly number[]): number[] {
  if (workers.length === 0) throw new Error('assignBucketOwners: no workers; a step needs at least one.');
  const order = Array.from({ length: layout.count }, (_, bucket) => bucket).sort(
    (a, b) => layout.size(b) - layout.size(a) || a - b,
  );
  const load = new Array<number>(workers.length).fill(0);
  const owners = new Array<number>(layout.count).fill(0);
  for (const bucket of order) {
    let least = 0;
    for (let i = 1; i < load.length; i++) if (load[i] < load[least]) least = i;
    owners[bucket] = workers[least];
    load[least] += layout.size(bucket);
  }
  return owners;
}

/** The parameters each worker owns under `owners`, in `workers` order (for figures and checks). */
export function ownedParameters(layout: BucketLayout, owners: readonly number[], workers: readonly number[]): number[] {
  return workers.map((id) => owners.reduce((sum, owner, bucket) => sum + (owner === id ? layout.size(bucket) : 0), 0));
}
