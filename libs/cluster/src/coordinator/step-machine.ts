import { isProtocolError, parameterChecksum, type DecodedMessage, type ProtocolError } from '@ddpm/protocol';
import { globalNorm, type UpdateResult } from '@ddpm/training';
import type { Actions } from './actions.ts';
import { gradientRefusal, readGradientPart, staleGradientError } from './gradient-check.ts';
import { contributionsOf, readReduced, recordReduced } from './reduced-gradient.ts';
import { GradientReducer } from '../gradient-reducer.ts';
import type { Member } from './membership.ts';
import { Bfloat16Updates } from '../bfloat16-updates.ts';
import { errorMessage, proposedBucketMessage, updateMessage } from './messages.ts';
import { giveBackAttempt, startStep } from './step-start.ts';
import type {
  FinishedStep,
  GradientVerdict,
  ReducedVerdict,
  StepInProgress,
  StepMachineContext,
} from './step-in-progress.ts';
import { contributed, noteNonFinite, stepOutcome, stepRecord } from './step-outcome.ts';
import { UpdateSnapshots } from './update-snapshots.ts';

/**
 * One synchronous step at a time: StepStarts out, Gradient buckets in (or, in the sharded topology, one ReducedGradient
 * per bucket from its owner), each complete bucket reduced and its Adam update proposed to every worker (UpdateBucket;
 * sharded: to the owner, which forwards it), then the Update. Messages in, messages out (into an {@link Actions}); no
 * sockets, files or timers, so it runs the same behind ZeroMQ and in one process.
 *
 * Promises: a bucket is proposed only when every expected worker sent it, the step is not skipped and the buckets so
 * far keep the norm under --clip; an unclipped step whose every bucket was proposed is confirmed (Update kind BUCKETS)
 * and adopted lazily by {@link settle}, any other step is applied in place and sent whole; a lost worker's indices go
 * back to the data order (sharded: the whole attempt's, and the step runs again without it).
 * Does not: decide membership, heartbeats, checkpoints or grids (the engine does).
 */
export class StepMachine {
  private readonly reducer: GradientReducer;
  private readonly snapshots: UpdateSnapshots;
  step: number;
  /** parameterChecksum(optimizer.params), refreshed whenever an update changes them. */
  checksum: number;
  current: StepInProgress | undefined;
  /** The plan of an update the workers already hold and the coordinator has not adopted yet (see {@link settle}). */
  private unsettled: UpdateResult | undefined;
  /** Where bfloat16 parts are widened (the largest bucket); GradientReducer.add consumes it at once. */
  private readonly widened: Float32Array;
  private readonly deltas: Bfloat16Updates | undefined; // UpdateBuckets as bfloat16 deltas (--wire-dtype bfloat16)
  skippedSteps: number;
  finalLoss: number;
  /** Sharded topology: the attempt at `step` (a lost worker abandons an attempt; the step runs again). */
  private attempt: { step: number; attempt: number; startedMs?: number } = { step: -1, attempt: 0 };

  constructor(
    private readonly context: StepMachineContext,
    resumed: { step: number; skippedSteps: number; finalLoss: number } = { step: 0, skippedSteps: 0, finalLoss: NaN },
  ) {
    const size = context.optimizer.params.length;
    this.reducer = new GradientReducer(context.description.layout);
    this.snapshots = new UpdateSnapshots(size);
    this.widened = new Float32Array(context.description.layout.largest);
    this.deltas = context.description.wireDtype === 'bfloat16' ? new Bfloat16Updates(size) : undefined;
    this.checksum = parameterChecksum(context.optimizer.params);
    ({ step: this.step, skippedSteps: this.skippedSteps, finalLoss: this.finalLoss } = resumed);
  }

  /**
   * Sends the step's StepStarts to the active workers (one shard each, in id order). With `checksumLater` they carry no parameter
   * checksum (0): the previous update is still unsettled, and {@link settle} sets it before any Gradient is read.
   */
  start(out: Actions, checksumLater = false): void {
    if (this.attempt.step !== this.step) this.attempt = { step: this.step, attempt: 0 };
    const checksum = checksumLater ? 0 : this.checksum;
    this.current = startStep(this.context, this.attempt, checksum, out);
  }

  /** One bucket of a worker's gradient: checked, added to the bucket's sum; proposes the buckets it completes. */
  gradient(member: Member, message: Extract<DecodedMessage, { kind: 'gradient' }>, out: Actions): GradientVerdict {
    const { body } = message;
    const { now, log, description } = this.context;
    const refusal = gradientRefusal(this.current, member.id, body, description.layout.count);
    const refuse = (error: ProtocolError): GradientVerdict => {
      out.send(member, errorMessage(error, message.envelope.sequence), now());
      return 'pending';
    };
    if (refusal !== undefined) return refuse(refusal);
    const current = this.current as StepInProgress;
    const buckets = description.layout.count;
    this.snapshots.confirm(member.id);
    this.settle();
    if (body.parameterChecksum >>> 0 !== current.checksum >>> 0) {
      refuse(staleGradientError(body.step));
      return 'stale';
    }
    let part: Float32Array | undefined;
    try {
      part = readGradientPart(message, description.layout, this.widened);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      return refuse(error);
    }
    // add() checks finiteness while it adds; a worker whose gradient is non-finite skips the step for everyone.
    const finite = part !== undefined && this.reducer.add(body.bucket, part, body.samples);
    if (!finite) noteNonFinite(current, member.name, body, log);
    current.buckets.record(member.id, body.bucket);
    this.reduceCompleteBuckets(current, out);
    if (current.buckets.partsFrom(member.id) < buckets) return 'pending';
    contributed(current, member, body, this.context);
    return current.awaited.size === 0 ? 'complete' : 'pending';
  }

  /**
   * One bucket reduced by its owner (sharded topology): checked, its mean taken in as the parts of every worker of the
   * attempt; proposes the buckets it completes. `stale`: a worker computed on other parameters (resynchronise it).
   */
  reduced(member: Member, message: Extract<DecodedMessage, { kind: 'reducedGradient' }>, out: Actions): ReducedVerdict {
    const { now, log, description } = this.context;
    this.settle();
    const { body } = message;
    const reading = readReduced(this.current, member.id, message, description.layout, this.widened);
    if (reading.kind === 'old') return { complete: false };
    if (reading.kind === 'stale') return { complete: false, stale: reading.worker };
    if (reading.kind === 'refused') {
      out.send(member, errorMessage(reading.error, message.envelope.sequence), now());
      return { complete: false };
    }
    const current = this.current as StepInProgress;
    const finite = reading.mean !== undefined && this.reducer.put(body.bucket, reading.mean, reading.samples);
    const members = new Map(this.context.active().map((m) => [m.id, m]));
    recordReduced(current, body, finite, new Map([...members].map(([id, m]) => [id, m.name])), log);
    this.reduceCompleteBuckets(current, out);
    for (const c of contributionsOf(body)) {
      const contributor = members.get(c.workerId);
      if (contributor !== undefined && current.buckets.partsFrom(c.workerId) === description.layout.count)
        contributed(current, contributor, c, this.context);
    }
    return { complete: current.awaited.size === 0 };
  }

  /**
   * The worker's part of the step in progress, if any, goes back to the data order (buckets it already sent stay in
   * their means). Returns true when that completed the step.
   */
  release(member: Member, why: string, out: Actions): boolean {
    const current = this.current;
    this.snapshots.abandon(member.id);
    if (current === undefined || !current.awaited.has(member.id)) return false;
    if (current.sharded !== undefined) {
      // Its parts are mixed into sums on other workers and the buckets it owned are lost: the attempt is abandoned, all
      // its samples go back to the data order and the step runs again without it (the caller starts it).
      const attempt = giveBackAttempt(this.context, current, member.name, why);
      this.attempt = { step: current.step, attempt, startedMs: current.startedMs };
      this.current = undefined;
      this.reducer.reset();
      return false;
    }
    current.awaited.delete(member.id);
    current.buckets.forget(member.id);
    const indices = current.assigned.get(member.id) ?? new Uint32Array(0);
    this.context.order.giveBack(current.epoch, indices);
    const parts = current.buckets.partsFrom(member.id);
    const kept =
      parts === 0 ? '' : ` (the ${parts} of ${current.buckets.buckets} gradient buckets it sent stay in their means)`;
    this.context.log.warn(
      { worker: member.name, step: current.step, samples: indices.length, parts },
      `step ${current.step} continues without ${member.name} (${why}); its ${indices.length} samples go back to the data order${kept}`,
    );
    this.reduceCompleteBuckets(current, out);
    return current.awaited.size === 0;
  }

  /** When the step lost every worker before any gradient arrived, forgets it (it runs again) and returns true. */
  abandonIfEmpty(): boolean {
    const current = this.current;
    if (current === undefined || current.contributors > 0 || current.nonFinite.length > 0) return false;
    this.current = undefined;
    this.reducer.reset();
    this.context.log.warn(
      { step: current.step },
      `step ${current.step} lost every worker before any gradient arrived; it runs again when workers are available`,
    );
    return true;
  }

  /**
   * Takes the mean of every bucket that every expected worker has now sent, proposes its update (Adam as if the step
   * needs no clipping) and sends it to every worker as an UpdateBucket, while the others still compute. Not when the
   * step will be skipped, nor for a bucket nobody contributed to, nor once the buckets so far put the norm above --clip.
   */
  private reduceCompleteBuckets(current: StepInProgress, out: Actions): void {
    this.settle(); // proposals start from the previous update
    const { description, optimizer, now } = this.context;
    const clip = optimizer.clipNorm;
    for (const bucket of current.buckets.takeComplete()) {
      if (current.nonFinite.length > 0 || this.reducer.samplesOf(bucket) === 0) continue;
      const mean = this.reducer.mean(bucket);
      current.normSquared += globalNorm(mean) ** 2;
      // The margin keeps rounding (bucket sums against the one sequential sum of the final norm) on the safe side; a
      // step that ends unclipped without every proposal is applied in place and sent whole, which is always correct.
      if (current.normSquared > clip * clip * (1 + 1e-6)) continue;
      current.proposed += 1;
      const { start } = description.layout.range(bucket);
      const proposed = optimizer.propose(mean, start, current.step);
      const { sharded, step } = current;
      const message = proposedBucketMessage(
        step,
        bucket,
        start,
        optimizer.params,
        proposed,
        this.deltas,
        sharded?.attempt,
      );
      // Sharded: to the bucket's owner only, which forwards it to the other workers.
      const owner = sharded?.bucketOwners[bucket];
      for (const member of this.context.active())
        if (owner === undefined || member.id === owner) out.send(member, message, now());
    }
  }

  /**
   * Ends the step whose awaited gradients all arrived or whose workers were lost: the mean, Adam, and the Update to every
   * active worker. Unclipped with every bucket proposed, the workers already hold the new parameters and the Update
   * only confirms them; the coordinator adopts them later ({@link settle}), and when `mayStartEarly(next)` the caller
   * sends the next StepStarts right away (`early`). Otherwise the update is applied here and sent whole.
   */
  finish(out: Actions, mayStartEarly: (next: number) => boolean): FinishedStep {
    const current = this.current;
    if (current === undefined) throw new Error('StepMachine.finish: no step is in progress; this is a bug.');
    const { optimizer, metrics, log, now } = this.context;
    this.settle();
    this.current = undefined;
    metrics?.observePhase('wait', (current.lastArrivalMs - current.startedMs) / 1000);
    const optimizerDone = metrics?.startPhase('optimizer');
    const mean = current.nonFinite.length > 0 || current.contributors === 0 ? undefined : this.reducer.takeMean();
    if (mean === undefined) this.reducer.reset();
    const plan = mean === undefined ? undefined : optimizer.plan(mean, current.step);
    const outcome = stepOutcome(current, plan);
    const { skipped, skipDetail, loss } = outcome;
    if (skipped) {
      metrics?.recordSkippedStep('non_finite_gradient');
      this.skippedSteps += 1;
      log.warn(
        { step: current.step, workers: current.nonFinite },
        `step ${current.step} skipped for every worker: ${skipDetail}`,
      );
    } else this.finalLoss = loss;
    const active = this.context.active();
    const next = current.step + 1;
    const adoptable =
      plan !== undefined && !plan.skipped && plan.clipScale === 1 && current.proposed === this.reducer.buckets;
    const early = adoptable && mayStartEarly(next);
    const communicationDone = metrics?.startPhase('communication');
    if (adoptable) {
      const confirm = updateMessage(outcome, 0);
      for (const member of active) out.send(member, confirm, now());
      this.unsettled = plan;
    } else if (plan !== undefined && mean !== undefined && !plan.skipped) {
      // Clipped: the proposal is void; the update is applied in place and sent whole.
      optimizer.commit(mean, plan);
      this.checksum = parameterChecksum(optimizer.params);
    }
    // The step's wall time ends when its update left.
    const seconds = (now() - current.startedMs) / 1000;
    this.step = next;
    if (!early) this.settle();
    optimizerDone?.();
    if (!adoptable) {
      // The frames are zero-copy views: workers get a snapshot, as the next step updates optimizer.params in place.
      const ids = active.map((member) => member.id);
      const params = skipped ? undefined : this.snapshots.take(optimizer.params, ids);
      const update = updateMessage(outcome, this.checksum, params);
      for (const member of active) out.send(member, update, now());
    }
    communicationDone?.();
    log.debug({ step: this.step, epoch: current.epoch, consumed: current.consumed }, 'step consumed');
    const record = stepRecord(current, outcome, seconds);
    if (!skipped) {
      const figures = {
        step: this.step,
        epoch: current.epoch,
        loss,
        images: current.samples,
        durationSeconds: seconds,
      };
      metrics?.recordStep({ ...figures, learningRate: outcome.learningRate, gradientGlobalNorm: outcome.gradientNorm });
    }
    return { record, early, assigned: [...current.assigned.keys()], seconds };
  }

  /**
   * Adopts the update whose buckets the workers already hold (parameters, Adam state, EMA) and sets the checksum the
   * step in progress is checked against. Called before anything reads them: the next proposal or Gradient, a Welcome,
   * a checkpoint, the end of the run. Deferring it that far keeps the EMA and the checksum off the critical path.
   */
  settle(): void {
    const unsettled = this.unsettled;
    if (unsettled === undefined) return;
    this.unsettled = undefined;
    this.context.optimizer.adopt(unsettled);
    this.checksum = parameterChecksum(this.context.optimizer.params);
    if (this.current !== undefined) this.current.checksum = this.checksum;
  }
}
