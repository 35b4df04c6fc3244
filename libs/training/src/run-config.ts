import type { ScheduleConfig } from '@ddpm/diffusion-core';
import type { Dataset } from '@ddpm/data';
import { resolvePreset, type UNetConfig } from '@ddpm/unet';
import type { OptimizerConfig } from './optimizer.ts';

/** The settings of one training run, shared by `ddpm train`, `ddpm local` and the coordinator. */
export interface RunConfig {
  readonly preset: string;
  readonly steps: number;
  /** Images per step in this process; for a coordinator, the local batch of each worker. */
  readonly batch: number;
  readonly seed: number;
  /** The run directory: metrics.jsonl, samples/, weights.ddpm, summary.json. */
  readonly out: string;
  readonly optimizer: OptimizerConfig;
  readonly schedule: ScheduleConfig;
  /** Write a sample grid from the EMA weights every this many steps (0: only at the end). */
  readonly sampleEvery: number;
  readonly sampleCount: number;
  /** DDIM steps used for the grids written during training. */
  readonly sampleSteps: number;
  /** The low-communication mode (--sync-every H > 1, DiLoCo); absent in synchronous runs. */
  readonly lowCommunication?: LowCommunicationConfig;
}

/** --sync-every H > 1: each step is an outer step of H inner Adam steps per worker (see docs/low-communication.md). */
export interface LowCommunicationConfig {
  /** Inner steps per outer step, H >= 2. */
  readonly syncEvery: number;
  /** Learning rate of the outer Nesterov step (DiLoCo: 0.7). */
  readonly outerLr: number;
  /** Momentum of the outer Nesterov step (DiLoCo: 0.9). */
  readonly outerMomentum: number;
}

/** Samples each worker gets per step: --batch, times H inner steps in the low-communication mode. */
export function samplesPerWorker(run: RunConfig): number {
  return run.batch * (run.lowCommunication?.syncEvery ?? 1);
}

/**
 * Checks that the dataset's images have the preset's size and channels, and returns the preset's config.
 * Throws an error saying which flag to change otherwise.
 */
export function checkDatasetFits(preset: string, dataset: Dataset): UNetConfig {
  const config = resolvePreset(preset);
  if (
    dataset.height !== config.imageSize ||
    dataset.width !== config.imageSize ||
    dataset.channels !== config.inChannels
  ) {
    throw new Error(
      `Dataset "${dataset.name}" holds ${dataset.height}x${dataset.width}x${dataset.channels} images but preset ${preset} ` +
        `expects ${config.imageSize}x${config.imageSize}x${config.inChannels}; pick a matching --preset or dataset.`,
    );
  }
  return config;
}
