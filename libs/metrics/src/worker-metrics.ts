import type { Registry } from 'prom-client';
import { METRICS, WORKER_PHASES, type WorkerPhase } from './metric-definitions.ts';
import { assertLabelValue, registerMetrics, setBackendInfo, setRunInfo, type RunIdentity } from './register-metrics.ts';

export interface WorkerMetricsOptions {
  /** This worker's short id, the `worker` label on every worker metric (e.g. `0`, `worker-1`). Never a path. */
  readonly worker: string;
  /** tfjs backend name for `ddpm_backend_info`; can also be set later with `setBackend`. */
  readonly backend?: string;
  /** Register prom-client's process default metrics too; default true. */
  readonly defaultMetrics?: boolean;
  /** Reads tfjs memory (pass `tf.memory`); when given, every `recordStep` also records it with `recordMemory`. */
  readonly memory?: () => TfjsMemory;
}

/** The part of `tf.memory()` the worker exports. */
export interface TfjsMemory {
  readonly numTensors: number;
  readonly numBytes: number;
}

/** One worker's metric handles. Every method is synchronous and cheap (no I/O). */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly worker: string;
  /** Records one computed gradient: `images` in the local batch, `durationSeconds` of the worker's whole step. */
  recordStep(step: { readonly images: number; readonly durationSeconds: number }): void;
  /** Adds `seconds` of this worker's time in `phase` to the phase histogram. */
  observePhase(phase: WorkerPhase, seconds: number): void;
  /** Starts timing `phase`; the returned function observes the elapsed seconds and returns them. */
  startPhase(phase: WorkerPhase): () => number;
  addSentBytes(bytes: number): void;
  addReceivedBytes(bytes: number): void;
  /** Reports `backend` in `ddpm_backend_info{role="worker"}`, replacing any previous one. */
  setBackend(backend: string): void;
  /** Reports the run this worker joined (from the Welcome) in `ddpm_run_info{run_id, preset}`. */
  setRun(run: RunIdentity): void;
  /** Records tfjs memory after a step: `tensors` and `bytes` from `tf.memory()` (numTensors, numBytes). */
  recordMemory(memory: TfjsMemory): void;
}

/**
 * Registers one worker's metrics (see README.md) in `registry`, all labelled `worker=<options.worker>`.
 *
 * Promises: every worker metric appears in `registry.metrics()` right away, including one series per worker phase
 * at 0 and the images/bytes counters at 0.
 * Preconditions: `registry` is this process's own registry and has no ddpm metrics; `options.worker` is a short id.
 * Does not: serve the registry (see `serveMetrics`) or time anything by itself; the caller reports events.
 */
export function createWorkerMetrics(registry: Registry, options: WorkerMetricsOptions): WorkerMetrics {
  const worker = options.worker;
  assertLabelValue('worker', worker, 'the worker name (ddpm worker --name)');
  const m = registerMetrics(registry, 'worker', 'createWorkerMetrics', options.defaultMetrics ?? true);
  const phases = m.histogram(METRICS.workerPhaseDuration);
  const images = m.counter(METRICS.workerImages);
  const imagesPerSecond = m.gauge(METRICS.workerImagesPerSecond);
  const sent = m.counter(METRICS.workerSentBytes);
  const received = m.counter(METRICS.workerReceivedBytes);
  const backendInfo = m.gauge(METRICS.backendInfo);
  const runInfo = m.gauge(METRICS.runInfo);
  const tensors = m.gauge(METRICS.workerTensors);
  const tensorBytes = m.gauge(METRICS.workerTensorBytes);
  tensors.set({ worker }, 0);
  tensorBytes.set({ worker }, 0);
  for (const phase of WORKER_PHASES) phases.zero({ worker, phase });
  images.inc({ worker }, 0);
  imagesPerSecond.set({ worker }, 0);
  sent.inc({ worker }, 0);
  received.inc({ worker }, 0);

  const nonNegative = (what: string, value: number): number => {
    if (!(value >= 0 && Number.isFinite(value))) {
      throw new Error(
        `createWorkerMetrics: ${what} must be a finite number >= 0, got ${value}; pass the measured value.`,
      );
    }
    return value;
  };

  const handles: WorkerMetrics = {
    registry,
    worker,
    recordStep(s) {
      images.inc({ worker }, nonNegative('images', s.images));
      if (nonNegative('durationSeconds', s.durationSeconds) > 0)
        imagesPerSecond.set({ worker }, s.images / s.durationSeconds);
      if (options.memory !== undefined) handles.recordMemory(options.memory());
    },
    observePhase(phase, seconds) {
      phases.observe({ worker, phase }, nonNegative('phase seconds', seconds));
    },
    startPhase(phase) {
      const start = process.hrtime.bigint();
      return () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        phases.observe({ worker, phase }, seconds);
        return seconds;
      };
    },
    addSentBytes(bytes) {
      sent.inc({ worker }, nonNegative('sent bytes', bytes));
    },
    addReceivedBytes(bytes) {
      received.inc({ worker }, nonNegative('received bytes', bytes));
    },
    setBackend(backend) {
      setBackendInfo(backendInfo, 'worker', backend);
    },
    setRun(run) {
      setRunInfo(runInfo, run);
    },
    recordMemory(memory) {
      tensors.set({ worker }, nonNegative('numTensors', memory.numTensors));
      tensorBytes.set({ worker }, nonNegative('numBytes', memory.numBytes));
    },
  };
  if (options.backend !== undefined) handles.setBackend(options.backend);
  return handles;
}
