import type { Registry } from 'prom-client';
import { LossSmoother } from './loss-smoother.ts';
import {
  COORDINATOR_PHASES,
  HANDSHAKE_REFUSAL_REASONS,
  METRICS,
  SKIP_REASONS,
  WORKER_FAILURE_REASONS,
  type CoordinatorPhase,
  type HandshakeRefusalReason,
  type SkipReason,
  type WorkerFailureReason,
} from './metric-definitions.ts';
import { assertLabelValue, registerMetrics, setBackendInfo, setRunInfo, type RunIdentity } from './register-metrics.ts';

/** One applied synchronous step, as the coordinator saw it. */
export interface CoordinatorStep {
  /** Steps applied so far, including this one. */
  readonly step: number;
  readonly epoch: number;
  /** Mean loss over the global batch. */
  readonly loss: number;
  /** Global batch size (images in this step over all workers). */
  readonly images: number;
  /** Wall time of the whole step in seconds. */
  readonly durationSeconds: number;
  readonly learningRate: number;
  /** Global L2 norm of the averaged gradient, before clipping. */
  readonly gradientGlobalNorm: number;
}

export interface CoordinatorMetricsOptions {
  /** tfjs backend name for `ddpm_backend_info`; can also be set later with `setBackend`. */
  readonly backend?: string;
  /** Smoothing factor of `ddpm_loss_smoothed` (bias-corrected EMA); default 0.98. */
  readonly lossSmoothing?: number;
  /** Register prom-client's process default metrics too; default true. */
  readonly defaultMetrics?: boolean;
}

/** The coordinator's metric handles. Every method is synchronous and cheap (no I/O). */
export interface CoordinatorMetrics {
  readonly registry: Registry;
  /** Records an applied step: loss (latest and smoothed), step, epoch, learning rate, grad norm, images, step time. */
  recordStep(step: CoordinatorStep): void;
  /** Adds `seconds` of coordinator time in `phase` to the phase histogram. */
  observePhase(phase: CoordinatorPhase, seconds: number): void;
  /** Starts timing `phase`; the returned function observes the elapsed seconds and returns them. */
  startPhase(phase: CoordinatorPhase): () => number;
  /** Counts a step that was not applied because of a non-finite loss or gradient. Does not change `ddpm_step`. */
  recordSkippedStep(reason: SkipReason): void;
  setActiveWorkers(count: number): void;
  /**
   * Counts a join in `ddpm_worker_joins_total` (label-less, exported at 0 from the start, so `increase()` sees the
   * first join) and creates the worker's series at 0 (failures per reason, leaves, straggler), so panels show it.
   */
  workerJoined(worker: string): void;
  /** Counts a clean leave and clears the worker's straggler flag. */
  workerLeft(worker: string): void;
  /** Counts a failure and clears the worker's straggler flag. */
  workerFailed(worker: string, reason: WorkerFailureReason): void;
  /** Counts a peer refused before joining (`ddpm_handshakes_refused_total{reason}`). */
  handshakeRefused(reason: HandshakeRefusalReason): void;
  /** Sets `ddpm_worker_straggler{worker}` to 1 or 0. */
  setStraggler(worker: string, straggler: boolean): void;
  addSentBytes(bytes: number): void;
  addReceivedBytes(bytes: number): void;
  /** Records a completed checkpoint: its duration, its step and its completion time (default: now). */
  recordCheckpoint(checkpoint: {
    readonly step: number;
    readonly durationSeconds: number;
    readonly unixTimeSeconds?: number;
  }): void;
  /** Reports `backend` in `ddpm_backend_info{role="coordinator"}`, replacing any previous one. */
  setBackend(backend: string): void;
  /**
   * Sets `ddpm_sample_fd` and `ddpm_sample_fd_floor` from an evaluation (`fd`: generated vs real; `fdFloor`: real vs
   * real at the same sample count). Both gauges have no sample until the first call, so no panel reads a fake 0.
   */
  recordEvaluation(evaluation: { readonly fd: number; readonly fdFloor: number }): void;
  /** Reports the run in `ddpm_run_info{run_id, preset}` (the dashboard's run variable), replacing any previous one. */
  setRun(run: RunIdentity): void;
}

/**
 * Registers the coordinator's metrics (see README.md) in `registry` and returns typed handles.
 *
 * Promises: every coordinator metric appears in `registry.metrics()` right away; label sets with a fixed domain
 * (skip reasons, coordinator phases) are created at 0 so queries return data before the first event.
 * Preconditions: `registry` is this process's own registry (never prom-client's global one) and has no ddpm metrics.
 * Does not: serve the registry (see `serveMetrics`) or measure anything by itself; the caller reports events.
 */
export function createCoordinatorMetrics(
  registry: Registry,
  options: CoordinatorMetricsOptions = {},
): CoordinatorMetrics {
  const m = registerMetrics(registry, 'coordinator', 'createCoordinatorMetrics', options.defaultMetrics ?? true);
  const smoother = new LossSmoother(options.lossSmoothing ?? 0.98);
  const phases = m.histogram(METRICS.coordinatorPhaseDuration);
  const skipped = m.counter(METRICS.skippedSteps);
  const joins = m.counter(METRICS.workerJoins);
  const leaves = m.counter(METRICS.workerLeaves);
  const failures = m.counter(METRICS.workerFailures);
  const straggler = m.gauge(METRICS.workerStraggler);
  const backendInfo = m.gauge(METRICS.backendInfo);
  const runInfo = m.gauge(METRICS.runInfo);
  for (const phase of COORDINATOR_PHASES) phases.zero({ phase });
  for (const reason of SKIP_REASONS) skipped.inc({ reason }, 0);
  joins.inc(0);
  const fd = m.gauge(METRICS.sampleFd);
  const fdFloor = m.gauge(METRICS.sampleFdFloor);
  // A label-less gauge is born at 0, which would read as a perfect distance: no sample until the first evaluation.
  fd.remove({});
  fdFloor.remove({});
  const refusals = m.counter(METRICS.handshakesRefused);
  for (const reason of HANDSHAKE_REFUSAL_REASONS) refusals.inc({ reason }, 0);

  const worker = (name: string): string => {
    assertLabelValue('worker', name, 'the worker name (ddpm worker --name)');
    return name;
  };
  const nonNegative = (what: string, value: number): number => {
    if (!(value >= 0 && Number.isFinite(value))) {
      throw new Error(
        `createCoordinatorMetrics: ${what} must be a finite number >= 0, got ${value}; pass the measured value.`,
      );
    }
    return value;
  };

  const handles: CoordinatorMetrics = {
    registry,
    recordStep(s) {
      m.gauge(METRICS.loss).set(s.loss);
      m.gauge(METRICS.lossSmoothed).set(smoother.update(s.loss));
      m.gauge(METRICS.step).set(s.step);
      m.gauge(METRICS.epoch).set(s.epoch);
      m.gauge(METRICS.learningRate).set(s.learningRate);
      m.gauge(METRICS.gradientGlobalNorm).set(s.gradientGlobalNorm);
      m.counter(METRICS.images).inc(nonNegative('images', s.images));
      m.histogram(METRICS.stepDuration).observe(nonNegative('durationSeconds', s.durationSeconds));
      if (s.durationSeconds > 0) m.gauge(METRICS.imagesPerSecond).set(s.images / s.durationSeconds);
    },
    observePhase(phase, seconds) {
      phases.observe({ phase }, nonNegative('phase seconds', seconds));
    },
    startPhase(phase) {
      const start = process.hrtime.bigint();
      return () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        phases.observe({ phase }, seconds);
        return seconds;
      };
    },
    recordSkippedStep(reason) {
      skipped.inc({ reason });
    },
    setActiveWorkers(count) {
      m.gauge(METRICS.activeWorkers).set(nonNegative('active workers', count));
    },
    workerJoined(name) {
      const w = worker(name);
      joins.inc();
      leaves.inc({ worker: w }, 0);
      for (const reason of WORKER_FAILURE_REASONS) failures.inc({ worker: w, reason }, 0);
      straggler.set({ worker: w }, 0);
    },
    workerLeft(name) {
      const w = worker(name);
      leaves.inc({ worker: w });
      straggler.set({ worker: w }, 0);
    },
    handshakeRefused(reason) {
      refusals.inc({ reason });
    },
    workerFailed(name, reason) {
      const w = worker(name);
      failures.inc({ worker: w, reason });
      straggler.set({ worker: w }, 0);
    },
    setStraggler(name, isStraggler) {
      straggler.set({ worker: worker(name) }, isStraggler ? 1 : 0);
    },
    addSentBytes(bytes) {
      m.counter(METRICS.coordinatorSentBytes).inc(nonNegative('sent bytes', bytes));
    },
    addReceivedBytes(bytes) {
      m.counter(METRICS.coordinatorReceivedBytes).inc(nonNegative('received bytes', bytes));
    },
    recordCheckpoint(c) {
      m.histogram(METRICS.checkpointDuration).observe(nonNegative('checkpoint durationSeconds', c.durationSeconds));
      m.gauge(METRICS.lastCheckpointStep).set(c.step);
      m.gauge(METRICS.lastCheckpointTimestamp).set(c.unixTimeSeconds ?? Date.now() / 1000);
    },
    setBackend(backend) {
      setBackendInfo(backendInfo, 'coordinator', backend);
    },
    setRun(run) {
      setRunInfo(runInfo, run);
    },
    recordEvaluation(e) {
      // Not checked for >= 0: a Frechet distance from a numerical matrix square root can come out a hair below 0,
      // and a failed evaluation's NaN is better shown as NaN than turned into an exception in the training process.
      fd.set(e.fd);
      fdFloor.set(e.fdFloor);
    },
  };
  if (options.backend !== undefined) handles.setBackend(options.backend);
  return handles;
}
