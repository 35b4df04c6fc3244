import { Phase } from '@ddpm/protocol';

/** `--step-timeout`: 'auto' (derived from the measured step times) or a fixed number of seconds (0: no deadline). */
export type StepTimeoutSetting = 'auto' | number;

/** The rule behind `--step-timeout auto`. */
export const AUTO_STEP_TIMEOUT = {
  /** Never less than this, nor than twice the heartbeat timeout (milliseconds). */
  floorMs: 30_000,
  /** A worker's first step after it joined builds and compiles its model: never less than this (milliseconds). */
  firstStepFloorMs: 300_000,
  /** Times the median of the recent step times. */
  factor: 5,
  /** How many recent step times the median is taken over. */
  window: 32,
} as const;

/**
 * The step deadline (StepStart.timeout_ms) each worker is given, and which workers missed theirs. Pure: times come in as
 * numbers, nothing is sent or dropped here (StepBoundaries.dropOverdue does that).
 *
 * With 'auto' the deadline is max(30 s, 2 × the heartbeat timeout, 5 × the median of the last 32 step times), and at
 * least 300 s for a worker's first step (model build and compile) or while no step time was measured yet. The heartbeat
 * timeout counts because a worker may compute that long without a sign of life, and the deadline must not be stricter
 * than liveness. A fixed setting is used as given, except that a worker's first step also gets at least 300 s.
 */
export class StepDeadline {
  private readonly recentMs: number[] = [];
  /** Workers that completed a step (or rejoined with a replica): their model is built. */
  private readonly seasoned = new Set<number>();

  /** `heartbeatTimeoutMs`: the coordinator's --heartbeat-timeout; twice it is a floor of 'auto'. */
  constructor(
    private readonly setting: StepTimeoutSetting,
    private readonly heartbeatTimeoutMs = 0,
  ) {
    if (setting !== 'auto' && !(Number.isFinite(setting) && setting >= 0))
      throw new RangeError(`StepDeadline: the setting must be 'auto' or seconds >= 0, got ${String(setting)}.`);
  }

  /** A completed step's wall time (StepStarts out to Update out), in milliseconds. */
  recordStep(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.recentMs.push(ms);
    if (this.recentMs.length > AUTO_STEP_TIMEOUT.window) this.recentMs.shift();
  }

  /** Worker `id` has a built model from now on (it delivered a step, or rejoined holding a replica). */
  markSeasoned(id: number): void {
    this.seasoned.add(id);
  }

  forget(id: number): void {
    this.seasoned.delete(id);
  }

  /** StepStart.timeout_ms for worker `id` (0: no deadline). */
  timeoutMs(id: number): number {
    const { floorMs, firstStepFloorMs, factor } = AUTO_STEP_TIMEOUT;
    if (this.setting === 0) return 0;
    if (this.setting !== 'auto') {
      const fixed = Math.round(this.setting * 1000);
      return this.seasoned.has(id) ? fixed : Math.max(fixed, firstStepFloorMs);
    }
    const measured = this.recentMs.length === 0 ? 0 : factor * median(this.recentMs);
    const first = this.recentMs.length === 0 || !this.seasoned.has(id);
    const floor = Math.max(first ? firstStepFloorMs : floorMs, 2 * this.heartbeatTimeoutMs);
    return Math.ceil(Math.max(floor, measured));
  }
}

/** What {@link overdueWorkers} reads of the step in progress. */
export interface DeadlineView {
  /** Workers whose gradient (some bucket) is still awaited. */
  readonly awaited: ReadonlySet<number>;
  /** Sharded topology: awaited workers that reported every part sent (see {@link noteHandOff}). */
  readonly handedOff?: ReadonlySet<number>;
  /** Worker id → clock time its StepStart was sent. */
  readonly sentMs: ReadonlyMap<number, number>;
  /** Worker id → its StepStart.timeout_ms (0 or absent: no deadline). */
  readonly timeoutMs: ReadonlyMap<number, number>;
  /** Deadlines count from no earlier than this clock time (set when the coordinator itself was blocked). */
  readonly deadlinesFromMs?: number;
}

/**
 * A Heartbeat of a worker in the sharded topology: WAITING at the step in progress says every part of its gradient has
 * left for the owners. Returns the milliseconds from its StepStart to `nowMs` for the first such hand-off (its step
 * time: every contribution completes with the last bucket, so arrivals cannot tell a straggler), else undefined.
 * Other heartbeats, and every heartbeat in the star, change nothing.
 */
export function noteHandOff(
  step: { step: number; handedOff?: Set<number>; sentMs: ReadonlyMap<number, number> } | undefined,
  id: number,
  heartbeat: { step: number; phase: Phase },
  nowMs: number,
): number | undefined {
  const handedOff = step?.handedOff;
  if (heartbeat.phase !== Phase.WAITING || heartbeat.step !== step?.step || handedOff === undefined) return undefined;
  if (handedOff.has(id) || !step.sentMs.has(id)) return undefined;
  handedOff.add(id);
  return nowMs - (step.sentMs.get(id) ?? nowMs);
}

/**
 * The awaited workers whose deadline has passed at `nowMs` (strictly after sent + timeout, the clock restarted at
 * `deadlinesFromMs` when the coordinator was blocked), in id order. In the sharded topology every owner waits for
 * every worker, so all are awaited: the blame goes to those that did not hand off all their parts, and only when
 * every worker did, to all awaited (an owner that does not reduce).
 */
export function overdueWorkers(step: DeadlineView, nowMs: number): number[] {
  const overdue: number[] = [];
  const handedOff = step.handedOff ?? new Set<number>();
  const silent = [...step.awaited].filter((id) => !handedOff.has(id));
  for (const id of silent.length > 0 ? silent : step.awaited) {
    const timeout = step.timeoutMs.get(id) ?? 0;
    const sent = step.sentMs.get(id);
    if (timeout <= 0 || sent === undefined) continue;
    if (nowMs - Math.max(sent, step.deadlinesFromMs ?? sent) > timeout) overdue.push(id);
  }
  return overdue.sort((a, b) => a - b);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
