import { makeSchedule, type ScheduleConfig } from '@ddpm/diffusion-core';
import { EpochCursor, gatherBatchTensor, type Dataset } from '@ddpm/data';
import { flattenWeights, resolvePreset, UNet, type UNetConfig } from '@ddpm/unet';
import * as tf from '@tensorflow/tfjs-core';
import { computeGradient } from './compute-gradient.ts';
import type { StepRecord } from './metrics-log.ts';
import { Optimizer, type OptimizerConfig } from './optimizer.ts';
import { RunRecorder } from './run-recorder.ts';
import { drawTrainingInputs } from './sample-draws.ts';

/** The settings of one training run, shared by single-process training and the coordinator. */
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
}

export interface TrainHooks {
  readonly onStep?: (record: StepRecord) => void;
  readonly onSampleGrid?: (path: string, step: number) => void;
}

/** What a finished run reports (also written to summary.json). */
export interface TrainSummary {
  readonly steps: number;
  readonly wallSeconds: number;
  readonly imgsPerS: number;
  readonly finalLoss: number;
  readonly skippedSteps: number;
  readonly weightsPath: string;
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

/**
 * Trains the preset's U-Net on `dataset` in this process for `config.steps` optimizer steps of `config.batch` samples.
 *
 * Promises: fills the run directory (see RunRecorder). Given the same config and backend the run is deterministic,
 * and it computes the same steps as a coordinator with W workers of local batch batch/W on the same data order.
 * Non-finite gradients skip the step (counted in the summary).
 * Preconditions: a tfjs backend is set; the dataset's images match the preset's size and channels.
 * Does not: resume from a checkpoint or talk to other processes (see the coordinator and worker apps).
 */
export async function train(config: RunConfig, dataset: Dataset, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const model = new UNet(checkDatasetFits(config.preset, dataset));
  const schedule = makeSchedule(config.schedule);
  const initial = model.initialize(config.seed);
  const optimizer = new Optimizer(flattenWeights(initial), config.optimizer);
  tf.dispose(initial);
  const cursor = new EpochCursor(dataset.count, config.seed);
  const recorder = new RunRecorder(config, model, schedule);
  const imageSize = dataset.height * dataset.width * dataset.channels;

  const started = performance.now();
  let finalLoss = Number.NaN;
  let skippedSteps = 0;
  for (let step = 0; step < config.steps; step++) {
    const stepStarted = performance.now();
    const { epoch, indices } = cursor.next(config.batch);
    const x0 = gatherBatchTensor(dataset, indices);
    const inputs = drawTrainingInputs(config.seed, step, indices, imageSize, schedule.timesteps);
    const { loss, gradient } = computeGradient(model, schedule, optimizer.params, x0, inputs);
    x0.dispose();
    const update = optimizer.apply(gradient, step);
    if (update.skipped) skippedSteps += 1;
    finalLoss = loss;
    const seconds = (performance.now() - stepStarted) / 1000;
    const record: StepRecord = {
      step: step + 1,
      loss,
      imgs_per_s: indices.length / seconds,
      epoch,
      lr: update.lr,
      grad_norm: update.gradientNorm,
      skipped: update.skipped,
      step_seconds: seconds,
    };
    recorder.recordStep(record);
    hooks.onStep?.(record);
    if (recorder.gridDue(step + 1, config.steps))
      hooks.onSampleGrid?.(await recorder.writeGrid(step + 1, optimizer.ema), step + 1);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const summary = {
    steps: config.steps,
    wallSeconds,
    imgsPerS: (config.steps * config.batch) / wallSeconds,
    finalLoss,
    skippedSteps,
  };
  const { weightsPath, grid } = await recorder.finish(config.steps, optimizer.params, optimizer.ema, {
    ...summary,
    preset: config.preset,
    batch: config.batch,
  });
  hooks.onSampleGrid?.(grid, config.steps);
  return { ...summary, weightsPath };
}
