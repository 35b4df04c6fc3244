export { decimal, integer, oneOf } from './flag-parsers.ts';
export { createLogger } from './logger.ts';
export { createProgress, type Progress, type ProgressFigures } from './progress.ts';
export { addBackendOption, addRunOptions, optionsToArgs, runConfigFromFlags, type RunFlags } from './run-options.ts';
export { runCommand } from './run-command.ts';
export { addMetricsOptions, startMetrics, type MetricsFlags } from './metrics-options.ts';
export { freePort } from './free-port.ts';
export { addCheckpointOptions, addJobOptions, type CheckpointFlags, type JobFlags } from './job-options.ts';
