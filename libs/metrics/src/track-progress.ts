import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { LivenessState } from './liveness-verdict.mjs';

/**
 * Keeps the liveness state of a training loop (see liveness-verdict.mjs) and hands every change to `publish`
 * (the metrics server, which answers GET /healthz from it in its own thread).
 *
 * Progress is a completed or skipped step, or becoming active: the stall clock starts when the first worker
 * connects, so a coordinator that waited hours for workers is not stalled the moment one arrives.
 * Does not: read a clock other than `now`, or decide health itself (livenessVerdict does).
 */
export class ProgressTracker {
  #state: LivenessState;

  constructor(
    private readonly publish: (state: LivenessState) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.#state = { active: false, activeWorkers: 0, step: 0, lastProgressAtMs: now() };
    publish(this.#state);
  }

  /** The state last published. */
  get state(): LivenessState {
    return this.#state;
  }

  /** The number of connected workers changed; active while it is above 0. */
  setActiveWorkers(count: number): void {
    const active = count > 0;
    const startsNow = active && !this.#state.active;
    this.#update({
      active,
      activeWorkers: count,
      lastProgressAtMs: startsNow ? this.now() : this.#state.lastProgressAtMs,
    });
  }

  /** A step completed (`step` is its number) or was skipped (undefined): the loop is making progress. */
  progressed(step?: number): void {
    this.#update({ step: step ?? this.#state.step, lastProgressAtMs: this.now() });
  }

  #update(change: Partial<LivenessState>): void {
    this.#state = { ...this.#state, ...change };
    this.publish(this.#state);
  }
}

/**
 * Wraps coordinator metrics so that the events the engine already reports (steps, skipped steps, connected
 * workers) also feed `tracker`. Every other method passes straight through.
 */
export function trackCoordinatorProgress(metrics: CoordinatorMetrics, tracker: ProgressTracker): CoordinatorMetrics {
  return {
    ...metrics,
    recordStep(step) {
      metrics.recordStep(step);
      tracker.progressed(step.step);
    },
    recordSkippedStep(reason) {
      metrics.recordSkippedStep(reason);
      tracker.progressed();
    },
    setActiveWorkers(count) {
      metrics.setActiveWorkers(count);
      tracker.setActiveWorkers(count);
    },
  };
}
