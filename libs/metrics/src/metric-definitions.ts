/**
 * The single source of truth for every Prometheus metric a ddpm process exports.
 *
 * The coordinator and worker factories register exactly these definitions, the recording rules and the Grafana
 * dashboard refer to metrics only through `MetricName`, and the tests check every name against Prometheus naming rules.
 * Adding a metric means adding it here; nothing else spells a metric name.
 *
 * Label values are bounded: `worker` is a short worker id (e.g. `0` or `worker-1`), `phase`, `reason` and `role`
 * come from the fixed sets below, `backend` is a tfjs backend name. No label ever carries a step number or a path.
 */

/** The phases a synchronous step is split into for the step-time breakdown. */
export const STEP_PHASES = ['data', 'compute', 'communication', 'wait', 'optimizer'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

/** Phases a worker times: load its local batch, compute its gradient, send/receive, wait for the others' update. */
export const WORKER_PHASES = ['data', 'compute', 'communication', 'wait'] as const satisfies readonly StepPhase[];
export type WorkerPhase = (typeof WORKER_PHASES)[number];

/** Phases the coordinator times: wait for all gradients, reduce/broadcast, apply the optimizer (and EMA). */
export const COORDINATOR_PHASES = ['wait', 'communication', 'optimizer'] as const satisfies readonly StepPhase[];
export type CoordinatorPhase = (typeof COORDINATOR_PHASES)[number];

/** Why a step was skipped instead of applied. */
export const SKIP_REASONS = ['non_finite_loss', 'non_finite_gradient'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Why the coordinator declared a worker failed. */
export const WORKER_FAILURE_REASONS = ['timeout', 'disconnected', 'error'] as const;
export type WorkerFailureReason = (typeof WORKER_FAILURE_REASONS)[number];

/**
 * Why the coordinator refused a peer before it joined: a plaintext peer at a CURVE coordinator, a CURVE peer that
 * expects another server key, a key not in --allow-keys, another failed handshake, or a refused Hello (admission).
 */
export const HANDSHAKE_REFUSAL_REASONS = [
  'no_curve',
  'wrong_server_key',
  'key_not_allowed',
  'bad_handshake',
  'hello_refused',
] as const;
export type HandshakeRefusalReason = (typeof HANDSHAKE_REFUSAL_REASONS)[number];

/** Which kind of process exports a metric. */
export const ROLES = ['coordinator', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric: its exposition name, help text, type, label names and (histograms) bucket upper bounds in base units. */
export interface MetricDefinition {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Which process exports it; `both` means both the coordinator and every worker. */
  readonly role: Role | 'both';
  readonly buckets?: readonly number[];
}

/** Step and phase durations: 1 ms to ~2 min, roughly x2.5 apart. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120] as const;
/** Checkpoint writes: 10 ms to 10 min. */
const CHECKPOINT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

/** Every metric, keyed by a short handle. The key is internal; `name` is what Prometheus sees. */
export const METRICS = {
  loss: {
    name: 'ddpm_loss',
    help: 'Mean training loss of the latest applied step (global batch).',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  lossSmoothed: {
    name: 'ddpm_loss_smoothed',
    help: 'Bias-corrected exponential moving average of ddpm_loss over applied steps.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  step: {
    name: 'ddpm_step',
    help: 'Number of optimizer steps applied so far (the step the next checkpoint would record).',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  epoch: {
    name: 'ddpm_epoch',
    help: 'Current epoch (passes over the dataset), counted from 0.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  learningRate: {
    name: 'ddpm_learning_rate',
    help: 'Learning rate used by the latest applied step.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  gradientGlobalNorm: {
    name: 'ddpm_gradient_global_norm',
    help: 'Global L2 norm of the averaged gradient of the latest step, before clipping.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  images: {
    name: 'ddpm_images_total',
    help: 'Training images in applied steps (global batch size per step).',
    type: 'counter',
    labelNames: [],
    role: 'coordinator',
  },
  imagesPerSecond: {
    name: 'ddpm_images_per_second',
    help: 'Global throughput of the latest step: global batch size divided by its wall time.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  stepDuration: {
    name: 'ddpm_step_duration_seconds',
    help: 'Wall time of one synchronous step on the coordinator, from step start to update applied.',
    type: 'histogram',
    labelNames: [],
    role: 'coordinator',
    buckets: DURATION_BUCKETS,
  },
  coordinatorPhaseDuration: {
    name: 'ddpm_coordinator_phase_duration_seconds',
    help: 'Coordinator time per step and phase (wait for gradients, communication, optimizer).',
    type: 'histogram',
    labelNames: ['phase'],
    role: 'coordinator',
    buckets: DURATION_BUCKETS,
  },
  activeWorkers: {
    name: 'ddpm_active_workers',
    help: 'Workers currently taking part in synchronous steps.',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  skippedSteps: {
    name: 'ddpm_skipped_steps_total',
    help: 'Steps not applied because a value was not finite, by reason.',
    type: 'counter',
    labelNames: ['reason'],
    role: 'coordinator',
  },
  workerJoins: {
    name: 'ddpm_worker_joins_total',
    help: 'Times a worker joined the job, by worker.',
    type: 'counter',
    labelNames: ['worker'],
    role: 'coordinator',
  },
  workerLeaves: {
    name: 'ddpm_worker_leaves_total',
    help: 'Times a worker left the job cleanly, by worker.',
    type: 'counter',
    labelNames: ['worker'],
    role: 'coordinator',
  },
  workerFailures: {
    name: 'ddpm_worker_failures_total',
    help: 'Times the coordinator declared a worker failed, by worker and reason.',
    type: 'counter',
    labelNames: ['worker', 'reason'],
    role: 'coordinator',
  },
  handshakesRefused: {
    name: 'ddpm_handshakes_refused_total',
    help: 'Peers refused before joining: failed ZeroMQ security handshakes and refused Hellos, by reason.',
    type: 'counter',
    labelNames: ['reason'],
    role: 'coordinator',
  },
  workerStraggler: {
    name: 'ddpm_worker_straggler',
    help: '1 while the coordinator considers the worker a straggler (markedly slower than the others), else 0.',
    type: 'gauge',
    labelNames: ['worker'],
    role: 'coordinator',
  },
  coordinatorSentBytes: {
    name: 'ddpm_coordinator_sent_bytes_total',
    help: 'Bytes the coordinator sent to workers (parameters, updates, control).',
    type: 'counter',
    labelNames: [],
    role: 'coordinator',
  },
  coordinatorReceivedBytes: {
    name: 'ddpm_coordinator_received_bytes_total',
    help: 'Bytes the coordinator received from workers (gradients, control).',
    type: 'counter',
    labelNames: [],
    role: 'coordinator',
  },
  checkpointDuration: {
    name: 'ddpm_checkpoint_duration_seconds',
    help: 'Wall time to write one checkpoint.',
    type: 'histogram',
    labelNames: [],
    role: 'coordinator',
    buckets: CHECKPOINT_BUCKETS,
  },
  lastCheckpointStep: {
    name: 'ddpm_last_checkpoint_step',
    help: 'Step recorded by the latest completed checkpoint (0 before the first one).',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  lastCheckpointTimestamp: {
    name: 'ddpm_last_checkpoint_timestamp_seconds',
    help: 'Unix time the latest checkpoint completed (0 before the first one).',
    type: 'gauge',
    labelNames: [],
    role: 'coordinator',
  },
  workerImages: {
    name: 'ddpm_worker_images_total',
    help: 'Images in the local batches this worker computed gradients for.',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerImagesPerSecond: {
    name: 'ddpm_worker_images_per_second',
    help: 'Throughput of this worker in its latest step: local batch size divided by the step wall time.',
    type: 'gauge',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerPhaseDuration: {
    name: 'ddpm_worker_phase_duration_seconds',
    help: 'Worker time per step and phase (data, compute, communication, wait for the others).',
    type: 'histogram',
    labelNames: ['worker', 'phase'],
    role: 'worker',
    buckets: DURATION_BUCKETS,
  },
  workerSentBytes: {
    name: 'ddpm_worker_sent_bytes_total',
    help: 'Bytes this worker sent to the coordinator (gradients, control).',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  workerReceivedBytes: {
    name: 'ddpm_worker_received_bytes_total',
    help: 'Bytes this worker received from the coordinator (parameters, updates, control).',
    type: 'counter',
    labelNames: ['worker'],
    role: 'worker',
  },
  backendInfo: {
    name: 'ddpm_backend_info',
    help: 'Always 1; the backend label names the tfjs backend this process computes with.',
    type: 'gauge',
    labelNames: ['role', 'backend'],
    role: 'both',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;
/** Every exported ddpm metric name. */
export type MetricName = (typeof METRICS)[MetricKey]['name'];
type HistogramName = Extract<(typeof METRICS)[MetricKey], { type: 'histogram' }>['name'];
/** Series names Prometheus derives from a histogram. */
export type HistogramSeriesName = `${HistogramName}_${'bucket' | 'sum' | 'count'}`;

/**
 * Process metrics from prom-client's `collectDefaultMetrics` that the dashboard uses. They keep their standard,
 * unprefixed names so stock Node.js dashboards work too; the tests check that a registry really exports them.
 */
export const DEFAULT_METRIC_NAMES = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
] as const;
export type DefaultMetricName = (typeof DEFAULT_METRIC_NAMES)[number];

/** A name a PromQL expression may select: an exported metric, a histogram series or a used default metric. */
export type SelectableName = MetricName | HistogramSeriesName | DefaultMetricName;

/** All definitions as a list, in declaration order. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);

/** The definitions a process of `role` exports (its own plus those marked `both`). */
export function definitionsFor(role: Role): MetricDefinition[] {
  return METRIC_DEFINITIONS.filter((d) => d.role === role || d.role === 'both');
}

/** Every name a PromQL expression may select, including histogram `_bucket`/`_sum`/`_count` series. */
export function selectableNames(): Set<string> {
  const names = new Set<string>(DEFAULT_METRIC_NAMES);
  for (const d of METRIC_DEFINITIONS) {
    names.add(d.name);
    if (d.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(d.name + s);
  }
  return names;
}
