export { Adam, DEFAULT_ADAM, type AdamOptions, type AdamState } from './adam.ts';
export { emaDecayAt, updateEma } from './ema.ts';
export { clipGlobalNorm, globalNorm } from './gradient-clip.ts';
export { learningRateAt } from './learning-rate.ts';
export { DEFAULT_OPTIMIZER, Optimizer, type OptimizerConfig, type OptimizerState, type UpdateResult } from './optimizer.ts';
export { readStateFile, writeStateFile, type StateFile } from './state-file.ts';
