/**
 * The label domains, histogram buckets and the shape of a metric definition. The definitions themselves are in
 * coordinator-metric-definitions.ts and worker-metric-definitions.ts, joined in metric-definitions.ts.
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
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120,
] as const;
