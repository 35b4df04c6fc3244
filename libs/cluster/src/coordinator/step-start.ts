import { splitGlobalBatch } from '@ddpm/data';
import { samplesPerWorker } from '@ddpm/training';
import { assignBucketOwners } from '../sharded/bucket-owners.ts';
import type { Actions } from './actions.ts';
import { BucketBarrier } from './bucket-barrier.ts';
import type { Member } from './membership.ts';
import { stepStartMessage, type ShardedAssignment } from './messages.ts';
import type { StepInProgress, StepMachineContext } from './step-in-progress.ts';

/**
 * Starts step `step`: takes the global batch from the data order, one shard per active worker in id order, and sends
 * each its StepStart. In the sharded topology the workers given samples are the attempt's peers and own the buckets
 * as {@link assignBucketOwners} spreads them. `checksum` 0: the StepStarts carry none (see StepStart.parameter_checksum).
 * A later attempt keeps the first one's `startedMs`: the step's wall time includes its abandoned attempts.
 */
export function startStep(
  context: StepMachineContext,
  step: { step: number; attempt: number; startedMs?: number },
  checksum: number,
  out: Actions,
): StepInProgress {
  const { attempt } = step;
  const { order, description, dataset, now } = context;
  const active = context.active();
  const orderBefore = order.state();
  const { epoch, indices } = order.next(samplesPerWorker(description.run) * active.length);
  const slices = splitGlobalBatch(indices, active.length);
  const startedMs = step.startedMs ?? now();
  const participants = active.filter((_, shard) => slices[shard].length > 0);
  const sharded = description.topology === 'sharded' ? shardedAssignment(context, participants, attempt) : undefined;
  const handedOff = sharded === undefined ? undefined : new Set<number>();
  const current: StepInProgress = {
    ...{ step: step.step, epoch, startedMs, checksum, orderBefore, assigned: new Map(), awaited: new Set(), handedOff },
    ...{ sentMs: new Map(), timeoutMs: new Map(), nonFinite: [], consumed: [] },
    buckets: new BucketBarrier(description.layout.count),
    ...{ normSquared: 0, proposed: 0, lastArrivalMs: startedMs, lossSum: 0, samples: 0, contributors: 0, sharded },
  };
  for (const [shardIndex, member] of active.entries()) {
    const slice = slices[shardIndex];
    if (slice.length === 0) continue;
    current.assigned.set(member.id, slice);
    current.awaited.add(member.id);
    current.buckets.expect(member.id);
    current.sentMs.set(member.id, now());
    const timeoutMs = context.timeoutFor?.(member.id) ?? 0;
    current.timeoutMs.set(member.id, timeoutMs);
    const assignment = {
      ...{ step: step.step, epoch, indices: slice, shardIndex, shardCount: active.length },
      ...{ globalBatchSize: indices.length, checksum, timeoutMs, sharded },
    };
    out.send(member, stepStartMessage(description, assignment, member.hasDataset ? undefined : dataset), now());
  }
  return current;
}

function shardedAssignment(
  context: StepMachineContext,
  participants: readonly Member[],
  attempt: number,
): ShardedAssignment {
  const peers = participants.map((member) => ({
    workerId: member.id,
    endpoint: member.peer?.endpoint ?? '',
    curvePublicKey: member.peer?.curvePublicKey ?? new Uint8Array(0),
  }));
  const ids = participants.map((member) => member.id);
  const bucketOwners = ids.length === 0 ? [] : assignBucketOwners(context.description.layout, ids);
  return { attempt, peers, bucketOwners };
}

/**
 * Gives every sample of an abandoned attempt (sharded topology) back to the data order, in their order, logs why, and
 * returns the number of the attempt that follows.
 */
export function giveBackAttempt(
  context: StepMachineContext,
  current: StepInProgress,
  lost: string,
  why: string,
): number {
  const indices = [...current.assigned.values()].flatMap((slice) => Array.from(slice));
  context.order.giveBack(current.epoch, indices);
  const attempt = (current.sharded?.attempt ?? 0) + 1;
  context.log.warn(
    { worker: lost, step: current.step, attempt },
    `step ${current.step} runs again without ${lost} (${why}): in the sharded topology the others' sums hold its parts; attempt ${attempt} starts with the remaining workers`,
  );
  return attempt;
}
