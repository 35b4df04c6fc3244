export { decimal, integer, oneOf } from './flag-parsers.ts';
export { createLogger } from './logger.ts';
export { createProgress, type Progress, type ProgressFigures } from './progress.ts';
export { addBackendOption, addRunOptions, optionsToArgs, runConfigFromFlags, type RunFlags } from './run-options.ts';
export { runCommand } from './run-command.ts';
export { addMetricsOptions, startMetrics, type MetricsFlags } from './metrics-options.ts';
export { freePort } from './free-port.ts';
export {
  addCheckpointOptions,
  addJobOptions,
  TOPOLOGIES,
  type CheckpointFlags,
  type JobFlags,
  type Topology,
} from './job-options.ts';
export {
  addLowCommunicationOptions,
  DEFAULT_OUTER_LR,
  DEFAULT_OUTER_MOMENTUM,
  outerFlagsNeedSyncEvery,
  syncEveryNeedsStar,
  withLowCommunication,
  type LowCommunicationFlags,
} from './low-communication-options.ts';
export { LOCK_FILE, LOCK_HOLDER_ENV, RunLock, RunLockedError } from './run-lock.ts';
export { lockVerdict, STALE_AFTER_MS, type LockHolder, type LockProbe, type LockVerdict } from './lock-verdict.ts';
export { openRunDirectory, RunDirectoryError, type RunDirectoryRequest } from './run-directory.ts';
export { PARENT_WATCH_ENV, watchParent } from './parent-watch.ts';
export { reportedMetricsPort, reportToParent, type ParentReport } from './parent-report.ts';
export {
  addFlagRules,
  brokenFlagRules,
  FlagError,
  heartbeatTimeoutAboveInterval,
  minWorkersWithinMax,
  pairedFlags,
  sampleStepsWithinTimesteps,
  warmupBelowSteps,
  type FlagRule,
  type ParsedFlags,
} from './flag-rules.ts';
export { endpointFlag, isLoopbackEndpoint, parseEndpoint, type Endpoint, type EndpointRole } from './endpoint.ts';
export { plaintextBindWarning } from './bind-warning.ts';
export {
  buildEmulatedNetwork,
  planEmulatedNetwork,
  removeEmulatedNetwork,
  tbf,
  type NetworkPlan,
} from './emulated-network.ts';
