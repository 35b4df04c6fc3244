import type { Logger } from 'pino';
import type { Gradient } from '@ddpm/protocol';
import type { StepRecord, UpdateResult } from '@ddpm/training';
import type { StepOutcome } from './messages.ts';
import type { Member } from './membership.ts';
import type { StepInProgress, StepMachineContext } from './step-in-progress.ts';

/** What a finished step did, as the Update tells the workers: skipped or not and why, its loss and learning rate. */
export function stepOutcome(current: StepInProgress, plan: UpdateResult | undefined): StepOutcome {
  const skipped = plan === undefined || plan.skipped;
  const skipDetail =
    current.nonFinite.length > 0
      ? `non-finite gradient from ${current.nonFinite.join(', ')}`
      : skipped
        ? 'non-finite averaged gradient'
        : '';
  return {
    ...{ step: current.step, epoch: current.epoch, skipped, skipDetail, learningRate: plan?.lr ?? 0 },
    loss: current.samples > 0 ? current.lossSum / current.samples : Number.NaN,
    gradientNorm: plan?.gradientNorm ?? Number.NaN,
    samples: current.samples,
    contributors: current.contributors,
  };
}

/** The metrics.jsonl line of a step that took `seconds` (until its update left). */
export function stepRecord(current: StepInProgress, outcome: StepOutcome, seconds: number): StepRecord {
  return {
    ...{ step: outcome.step + 1, loss: outcome.loss, imgs_per_s: current.samples / seconds, epoch: current.epoch },
    ...{ lr: outcome.learningRate, grad_norm: outcome.gradientNorm, skipped: outcome.skipped, step_seconds: seconds },
    ...{ workers: current.contributors + current.nonFinite.length, samples: current.consumed.length },
  };
}

/** A worker sent a non-finite bucket or loss: the step is skipped for everyone (logged once per worker). */
export function noteNonFinite(
  current: StepInProgress,
  worker: string,
  body: Pick<Gradient, 'step' | 'bucket' | 'loss' | 'nonFiniteCount'>,
  log: Logger,
): void {
  if (current.nonFinite.includes(worker)) return;
  current.nonFinite.push(worker);
  const { step, bucket, loss } = body;
  log.warn(
    { worker, step, bucket, nonFinite: body.nonFiniteCount, loss },
    `worker ${worker} sent a non-finite gradient or loss at step ${step}; the step is skipped for every worker`,
  );
}

/** Every bucket of `member`'s part of the step arrived (itself or reduced by owners): it counts towards the step. */
export function contributed(
  current: StepInProgress,
  member: Member,
  part: { readonly loss: number; readonly samples: number },
  context: Pick<StepMachineContext, 'now' | 'stragglers'>,
): void {
  if (!current.nonFinite.includes(member.name)) {
    current.contributors += 1;
    current.lossSum += part.loss * part.samples;
    current.samples += part.samples;
  }
  current.awaited.delete(member.id);
  current.consumed.push(...(current.assigned.get(member.id) ?? []));
  current.lastArrivalMs = context.now();
  const sentMs = current.sentMs.get(member.id) ?? current.startedMs;
  // Sharded: every contribution completes with the last bucket; the hand-off times the worker (noteHandOff).
  if (current.handedOff === undefined) context.stragglers.record(member.id, current.lastArrivalMs - sentMs);
}
