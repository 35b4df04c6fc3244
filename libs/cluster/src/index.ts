// Public API of @ddpm/cluster: the distributed engine. The coordinator's decisions (CoordinatorEngine, StepMachine)
// take decoded messages and return actions; CoordinatorServer and Worker are the ZeroMQ shells around them, and
// InProcessRun runs both sides in one process for `ddpm train`.
export type { CoordinatorAction, Outgoing } from './coordinator/actions.ts';
export { CheckpointSchedule, type CheckpointPolicy } from './coordinator/checkpoint-schedule.ts';
export { CoordinatorEngine, type EngineOptions } from './coordinator/coordinator-engine.ts';
export { CoordinatorServer, type ServerOptions } from './coordinator/coordinator-server.ts';
export { RunCoordinator, type CoordinatorSummary, type Delivery } from './coordinator/run-coordinator.ts';
export { RunLifecycle, type LifecycleOptions } from './coordinator/run-lifecycle.ts';
export { DEFAULT_BUCKET_BYTES } from './coordinator/run-state.ts';
export { ZapHandler } from './coordinator/zap-handler.ts';
export { z85Decode, z85Encode } from './coordinator/z85.ts';
export { InProcessRun, type InProcessOptions } from './in-process/train-in-process.ts';
export type { ModelDescription } from './model-description.ts';
export { ModelGradients, type GradientJob, type GradientSource } from './worker/gradient-source.ts';
export { SimulatedGradients, withFaults, type WorkerFaults } from './worker/simulated-gradients.ts';
export { InnerSteps, innerStepKey } from './worker/inner-steps.ts';
export { Worker, type WorkerOptions } from './worker/worker.ts';
