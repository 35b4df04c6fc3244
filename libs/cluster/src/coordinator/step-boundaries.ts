import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { ErrorCode, ErrorReason, ProtocolError } from '@ddpm/protocol';
import { sampleGridDue, type RunConfig } from '@ddpm/training';
import type { Actions, CoordinatorAction } from './actions.ts';
import { checkpointOf, type CheckpointSchedule } from './checkpoint-schedule.ts';
import type { Membership, Member } from './membership.ts';
import { errorMessage, shutdownMessage, welcomeMessage } from './messages.ts';
import type { RunState } from './run-state.ts';
import { overdueWorkers, type StepDeadline } from './step-deadline.ts';
import type { StepMachine } from './step-machine.ts';
import type { StragglerDetector } from './straggler-detector.ts';

/** True when an evaluation is due after `step` steps: every `every` steps and at the end of the run (every > 0). */
export function evaluationDue(every: number, step: number, total: number): boolean {
  return every > 0 && (step % every === 0 || step === total);
}

/** What the boundaries decide with (the engine's options). */
export interface BoundaryOptions {
  readonly run: RunConfig;
  readonly minWorkers: number;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  readonly straggler: { readonly factor: number; readonly exclude: boolean };
  readonly evalEvery?: number;
}

/**
 * Membership changes and step boundaries: who is dropped, resynchronised or welcomed, and what a finished step leads
 * to (the next StepStarts, a grid, a checkpoint, the end of the run). Pure like the engine that owns it: it only adds
 * actions.
 */
export class StepBoundaries {
  /** Set once the run reached --steps or was stopped. */
  done: 'finished' | 'stopped' | undefined;

  constructor(
    private readonly options: BoundaryOptions,
    private readonly state: RunState,
    private readonly members: Membership,
    private readonly steps: StepMachine,
    private readonly stragglers: StragglerDetector,
    private readonly schedule: CheckpointSchedule,
    private readonly deadline: StepDeadline,
    private readonly now: () => number,
  ) {}

  /** The current parameters and EMA (settled); valid until the next input. */
  weights(): { params: Float32Array; ema: Float32Array } {
    this.steps.settle();
    return { params: this.state.optimizer.params, ema: this.state.optimizer.ema };
  }

  /**
   * Removes a worker; its part of a step in progress goes back (the step completes, or runs again in the sharded
   * topology). `startNext` false: inside {@link complete}, which starts the next step itself.
   */
  drop(member: Member, reason: 'left' | 'error' | 'disconnected' | 'timeout', out: Actions, startNext = true): void {
    const { metrics } = this.options;
    this.members.remove(member.id);
    this.stragglers.forget(member.id);
    this.deadline.forget(member.id);
    if (reason === 'left') metrics?.workerLeft(member.name);
    else metrics?.workerFailed(member.name, reason);
    metrics?.setActiveWorkers(this.members.active().length);
    if (this.steps.release(member, reason, out)) this.complete(out);
    // No step in progress: waiting for workers (next logs that), or a sharded attempt was abandoned (next runs it again).
    if (startNext && this.steps.current === undefined && this.done === undefined) this.next(out);
  }

  /**
   * Drops every worker that has not delivered every gradient bucket of the step in progress by its deadline
   * (StepStart.timeout_ms), exactly as a dead worker is dropped (the step completes with the others, or runs again when
   * none contributed), and tells it so: Error{TIMEOUT, reason STEP_DEADLINE_MISSED, step}, not fatal (it may rejoin).
   */
  dropOverdue(out: Actions): void {
    const current = this.steps.current;
    if (current === undefined) return;
    for (const id of overdueWorkers(current, this.now())) {
      const member = this.members.get(id);
      // The sharded topology abandons the attempt at the first drop: its other workers are in the next one.
      if (member === undefined || this.steps.current !== current) continue;
      const seconds = (current.timeoutMs.get(id) ?? 0) / 1000;
      const { buckets } = current.buckets;
      const sent = current.buckets.partsFrom(id);
      const text = `worker ${member.name} missed the deadline of step ${current.step}: ${sent} of ${buckets} gradient buckets arrived within ${seconds} s (StepStart.timeout_ms; coordinator flag --step-timeout). It was dropped and the step goes on without it; send a Hello with resume to rejoin, and give the worker a faster host or the coordinator a longer --step-timeout.`;
      const error = new ProtocolError(ErrorCode.TIMEOUT, text, {
        ...{ reason: ErrorReason.STEP_DEADLINE_MISSED, step: current.step, fatal: false },
      });
      this.options.log.warn({ worker: member.name, step: current.step, timeoutS: seconds, buckets, sent }, text);
      out.send(member, errorMessage(error), this.now());
      this.drop(member, 'timeout', out);
    }
  }

  /** A worker whose parameters are stale gets the current state (Welcome, same id) at the next step boundary. */
  resynchronise(member: Member, out: Actions): void {
    member.state = 'pending';
    this.options.metrics?.setActiveWorkers(this.members.active().length);
    if (this.steps.release(member, 'stale parameters', out)) this.complete(out);
    else if (this.steps.current === undefined && this.done === undefined) this.next(out);
  }

  /** Welcomes the pending workers with the current state, then starts the next step if enough workers are active. */
  next(out: Actions, checksumLater = false): void {
    if (!checksumLater) this.admitPending(out);
    if (this.members.active().length < this.options.minWorkers) {
      this.steps.current = undefined;
      this.logWaiting();
      return;
    }
    this.steps.start(out, checksumLater);
  }

  private admitPending(out: Actions): void {
    const pending = this.members.pending();
    if (pending.length === 0) return;
    const { params } = this.weights();
    const copy = params.slice();
    for (const member of pending) {
      member.state = 'active';
      const welcome = welcomeMessage(this.state.description, member.id, this.steps.step, this.steps.checksum, copy);
      out.send(member, welcome, this.now());
    }
    this.options.metrics?.setActiveWorkers(this.members.active().length);
  }

  /** The step's awaited gradients are all in (or their workers lost): finish it, then what the boundary asks for. */
  complete(out: Actions): void {
    if (this.steps.abandonIfEmpty()) return this.next(out);
    const total = this.options.run.steps;
    const quietBoundary = (next: number): boolean =>
      next < total &&
      this.members.pending().length === 0 &&
      !this.gridDue(next) &&
      !this.checkpointDue(next) &&
      !evaluationDue(this.options.evalEvery ?? 0, next, total);
    const finished = this.steps.finish(out, quietBoundary);
    this.deadline.recordStep(finished.seconds * 1000);
    for (const id of finished.assigned) if (this.members.get(id) !== undefined) this.deadline.markSeasoned(id);
    // Before the next step starts: an excluded straggler gets no StepStart, and the step is started once.
    this.reportStragglers(finished.assigned, out);
    if (finished.early) this.next(out, true);
    out.push({ kind: 'record', record: finished.record });
    if (finished.early) return;
    const step = this.steps.step;
    if (this.gridDue(step)) out.push({ kind: 'grid', step, ema: this.weights().ema });
    if (evaluationDue(this.options.evalEvery ?? 0, step, total))
      out.push({ kind: 'evaluate', step, ema: this.weights().ema });
    if (this.checkpointDue(step)) out.push(this.checkpoint(step >= total ? 'end of run' : 'schedule'));
    if (step < total) return this.next(out);
    const shutdown = shutdownMessage('training finished', step, true);
    for (const member of this.members.all()) out.send(member, shutdown, this.now());
    out.push({ kind: 'drain' });
    out.push({ kind: 'finished' });
    this.done = 'finished';
  }

  private gridDue(step: number): boolean {
    return sampleGridDue(this.options.run, step);
  }

  /** With --sync-every a checkpoint is due exactly where the inner states were collected (see InnerStateBook). */
  private checkpointDue(step: number): boolean {
    const inner = this.state.description.innerStates;
    return inner === undefined ? this.schedule.due(step, this.options.run.steps, this.now()) : inner.ready(step);
  }

  /**
   * The checkpoint of a stop (SIGTERM/SIGINT). With --sync-every only where the boundary's inner states are known;
   * otherwise none (logged): the newest scheduled checkpoint resumes exactly, a checkpoint without them would not.
   */
  stopCheckpoint(signal: string): CoordinatorAction[] {
    const { step } = this.steps;
    if (this.state.description.innerStates?.ready(step) !== false) return [this.checkpoint(`stop (${signal})`)];
    const why = `no checkpoint on ${signal}: with --sync-every the workers' inner states are collected only at scheduled checkpoints, and step ${step} is not one; --resume latest continues exactly from the newest checkpoint`;
    this.options.log.warn({ step }, why);
    return [];
  }

  /** A checkpoint of the last step boundary (the data order before a step in progress took its batch). */
  checkpoint(why: string): CoordinatorAction {
    this.steps.settle();
    const { description, fingerprint, optimizer, order } = this.state;
    const run = { runId: description.runId, run: this.options.run, model: description.model, fingerprint };
    const { step, skippedSteps, finalLoss } = this.steps;
    const position = { step, skippedSteps, lastLoss: finalLoss };
    const inner = description.innerStates?.states(step);
    const orderState = this.steps.current?.orderBefore ?? order.state();
    const checkpoint = checkpointOf(run, position, orderState, optimizer.state(), inner);
    this.schedule.written(this.now());
    description.innerStates?.written(this.now());
    return { kind: 'checkpoint', checkpoint, why };
  }

  private reportStragglers(ids: readonly number[], out: Actions): void {
    const { straggler, log, metrics, minWorkers } = this.options;
    for (const verdict of this.stragglers.evaluate(ids)) {
      const member = this.members.get(verdict.id);
      if (member === undefined || !verdict.changed) continue;
      metrics?.setStraggler(member.name, verdict.straggler);
      const figures = {
        worker: member.name,
        stepMs: Math.round(verdict.ms),
        othersMedianMs: Math.round(verdict.othersMs),
        factor: straggler.factor,
      };
      if (!verdict.straggler) {
        log.info(figures, `worker ${member.name} is no longer a straggler`);
        continue;
      }
      log.warn(
        figures,
        `worker ${member.name} is a straggler: ${figures.stepMs} ms per step against a median of ${figures.othersMedianMs} ms for the others (--straggler-factor ${straggler.factor})`,
      );
      if (straggler.exclude && this.members.active().length - 1 >= minWorkers) {
        const text = `excluded as a straggler: ${figures.stepMs} ms per step against ${figures.othersMedianMs} ms for the others (coordinator flags --straggler-factor ${straggler.factor} --exclude-stragglers); run it on a faster host or with a smaller load.`;
        const reason = ErrorReason.STRAGGLER;
        const error = new ProtocolError(ErrorCode.TIMEOUT, text, { fatal: true, reason, step: this.steps.step });
        out.send(member, errorMessage(error), this.now());
        log.warn({ worker: member.name }, `worker ${member.name} excluded (--exclude-stragglers)`);
        this.drop(member, 'error', out, false);
      }
    }
  }

  logWaiting(): void {
    const { minWorkers, log } = this.options;
    const connected = this.members.active().length + this.members.pending().length;
    if (connected < minWorkers) {
      log.info(
        `waiting for workers: ${connected}/${minWorkers} connected (--min-workers ${minWorkers}); start workers with: ddpm worker --connect tcp://HOST:PORT`,
      );
    }
  }
}
