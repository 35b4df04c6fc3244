export {
  COORDINATOR_PHASES,
  DEFAULT_METRIC_NAMES,
  METRIC_DEFINITIONS,
  METRICS,
  ROLES,
  SKIP_REASONS,
  HANDSHAKE_REFUSAL_REASONS,
  STEP_PHASES,
  WORKER_FAILURE_REASONS,
  WORKER_PHASES,
  definitionsFor,
  type CoordinatorPhase,
  type MetricDefinition,
  type MetricName,
  type Role,
  type SkipReason,
  type StepPhase,
  type WorkerFailureReason,
  type HandshakeRefusalReason,
  type WorkerPhase,
} from './metric-definitions.ts';
export { createRegistry } from './create-registry.ts';
export type { RunIdentity } from './register-metrics.ts';
export {
  createCoordinatorMetrics,
  type CoordinatorMetrics,
  type CoordinatorMetricsOptions,
  type CoordinatorStep,
} from './coordinator-metrics.ts';
export {
  createWorkerMetrics,
  type TfjsMemory,
  type WorkerMetrics,
  type WorkerMetricsOptions,
} from './worker-metrics.ts';
export { serveMetrics, type MetricsServer, type ServeMetricsOptions } from './serve-metrics.ts';
export { livenessVerdict, type LivenessState, type LivenessVerdict } from './liveness-verdict.mjs';
export { ProgressTracker, trackCoordinatorProgress } from './track-progress.ts';
export { LossSmoother } from './loss-smoother.ts';
export { RECORDING_RULES, type RecordingRuleName } from './recording-rules.ts';
export { ALERTING_RULES, CHECKPOINT_AGE_LIMIT_SECONDS, type AlertName } from './alerting-rules.ts';
export { buildDashboard, dashboardExpressions, DASHBOARD_UID } from './dashboard.ts';
export { RATE_INTERVAL, RUN_PAGE_DEFAULT } from './dashboard-variables.ts';
export { rateIntervalFor, renderExpression, type DashboardValues } from './dashboard-render.ts';
export { selectedNames } from './promql-names.ts';
export { parseExposition, sampleValue, type Exposition, type Sample } from './parse-exposition.ts';
export { runPromtool, type PromtoolResult } from './promtool.ts';
