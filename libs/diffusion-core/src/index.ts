export { Rng, type RngState } from './random.ts';
export { timestepEmbedding } from './timestep-embedding.ts';
export {
  makeSchedule,
  type DiffusionSchedule,
  type ScheduleConfig,
  type ScheduleKind,
  type ScheduleTable,
  LINEAR_BETA_START,
  LINEAR_BETA_END,
  COSINE_OFFSET,
  COSINE_MAX_BETA,
} from './schedule.ts';
export { qSample, qPosterior, coefficientAt, type Posterior } from './forward.ts';
export { diffusionLoss, sampleTrainingInputs, type NoiseModel, type TrainingInputs } from './loss.ts';
export { ensureLossGradientsRegistered } from './loss-gradients.ts';
export { type SamplerStep, type SamplerCallback, type SampleShape } from './sampler-common.ts';
export { ddpmSample, type DdpmSampleOptions } from './ddpm-sampler.ts';
export { ddimSample, ddimTimesteps, type DdimSampleOptions } from './ddim-sampler.ts';
