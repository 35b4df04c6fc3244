export { Adam, DEFAULT_ADAM, type AdamBuffers, type AdamOptions, type AdamState } from './adam.ts';
export { benchTrainingStep, type BenchStepOptions, type BenchStepResult } from './bench-step.ts';
export {
  CHECKPOINT_FORMAT,
  loadCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type CheckpointMeta,
} from './checkpoint.ts';
export { CheckpointStore, type FoundCheckpoint, type RejectedCheckpoint } from './checkpoint-store.ts';
export { DataOrder, type CarriedIndices, type DataOrderState, type OrderedBatch } from './data-order.ts';
export { limitDataset } from './dataset-limit.ts';
export { computeGradient, type GradientResult, type GradientStream } from './compute-gradient.ts';
export { emaDecayAt, updateEma } from './ema.ts';
export { clipGlobalNorm, clipScale, globalNorm } from './gradient-clip.ts';
export { BucketLayout } from './bucket-layout.ts';
export { bucketStarts } from './gradient-buckets.ts';
export { learningRateAt } from './learning-rate.ts';
export { MetricsLog, type StepRecord } from './metrics-log.ts';
export {
  DEFAULT_OPTIMIZER,
  Optimizer,
  type OptimizerConfig,
  type OptimizerState,
  type StepOptimizer,
  type UpdateResult,
} from './optimizer.ts';
export { drawTrainingInputs, sampleKey } from './sample-draws.ts';
export { drawSamples, SAMPLER_NAMES, type SampleOptions, type SamplerName } from './sampling.ts';
export { readStateFile, writeStateFile, type StateFile, type StateFileWriteOptions } from './state-file.ts';
export { RunRecorder, sampleGridDue, type RecorderOptions } from './run-recorder.ts';
export { checkDatasetFits, samplesPerWorker, type LowCommunicationConfig, type RunConfig } from './run-config.ts';
export { OuterOptimizer } from './outer-optimizer.ts';
export { loadWeights, saveWeights, type Weights, type WeightsMeta } from './weights-file.ts';
export { explainFsError, FsFailure, isSystemError, type FsErrorContext } from './fs-errors.ts';
