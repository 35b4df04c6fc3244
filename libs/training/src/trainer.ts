import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeSchedule, type ScheduleConfig } from '@ddpm/diffusion-core';
import { EpochCursor, gatherBatchTensor, writeImageGrid, type Dataset } from '@ddpm/data';
import { flattenWeights, resolvePreset, UNet } from '@ddpm/unet';
import * as tf from '@tensorflow/tfjs-core';
import { computeGradient } from './compute-gradient.ts';
import { MetricsLog, type StepRecord } from './metrics-log.ts';
import { Optimizer, type OptimizerConfig } from './optimizer.ts';
import { drawTrainingInputs } from './sample-draws.ts';
import { drawSamples } from './sampling.ts';
import { saveWeights } from './weights-file.ts';

/** Everything a single-process training run needs. */
export interface TrainOptions {
  readonly preset: string;
  readonly dataset: Dataset;
  readonly steps: number;
  readonly batch: number;
  readonly seed: number;
  /** The run directory: metrics.jsonl, samples/, weights.ddpm. */
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

/** What a finished run reports. */
export interface TrainSummary {
  readonly steps: number;
  readonly wallSeconds: number;
  readonly imgsPerS: number;
  readonly finalLoss: number;
  readonly skippedSteps: number;
  readonly weightsPath: string;
  readonly sampleGrids: readonly string[];
}

/**
 * Trains the preset's U-Net on `dataset` in this process for `steps` optimizer steps of `batch` samples.
 *
 * Promises: writes one metrics.jsonl line per step, sample grids (PNG, EMA weights, DDIM) every `sampleEvery` steps
 * and at the end, and the final parameters and EMA to `out/weights.ddpm`. Given the same options and backend the
 * run is deterministic. Non-finite gradients skip the step (counted in the summary).
 * Preconditions: a tfjs backend is set; the dataset's images match the preset's size and channels.
 * Does not: resume from a checkpoint or talk to other processes (see the coordinator and worker apps).
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const config = resolvePreset(options.preset);
  const { dataset } = options;
  if (dataset.height !== config.imageSize || dataset.width !== config.imageSize || dataset.channels !== config.inChannels) {
    throw new Error(
      `Dataset "${dataset.name}" holds ${dataset.height}x${dataset.width}x${dataset.channels} images but preset ${options.preset} ` +
        `expects ${config.imageSize}x${config.imageSize}x${config.inChannels}; pick a matching --preset or --image-size.`,
    );
  }
  const model = new UNet(config);
  const schedule = makeSchedule(options.schedule);
  const initial = model.initialize(options.seed);
  const optimizer = new Optimizer(flattenWeights(initial), options.optimizer);
  tf.dispose(initial);
  const cursor = new EpochCursor(dataset.count, options.seed);
  const metrics = new MetricsLog(join(options.out, 'metrics.jsonl'));
  const samplesDir = join(options.out, 'samples');
  mkdirSync(samplesDir, { recursive: true });
  const imageSize = config.imageSize * config.imageSize * config.inChannels;

  const grids: string[] = [];
  const writeGrid = async (step: number): Promise<void> => {
    const images = await drawSamples(model, schedule, optimizer.ema, {
      sampler: 'ddim', count: options.sampleCount, steps: options.sampleSteps, eta: 0, seed: options.seed,
    });
    const path = join(samplesDir, `step-${String(step).padStart(6, '0')}.png`);
    writeImageGrid(path, images, options.sampleCount, config.imageSize, config.imageSize, config.inChannels);
    grids.push(path);
    hooks.onSampleGrid?.(path, step);
  };

  const started = performance.now();
  let finalLoss = Number.NaN;
  let skippedSteps = 0;
  for (let step = 0; step < options.steps; step++) {
    const stepStarted = performance.now();
    const { epoch, indices } = cursor.next(options.batch);
    const x0 = gatherBatchTensor(dataset, indices);
    const inputs = drawTrainingInputs(options.seed, step, indices, imageSize, schedule.timesteps);
    const { loss, gradient } = computeGradient(model, schedule, optimizer.params, x0, inputs);
    x0.dispose();
    const update = optimizer.apply(gradient, step);
    if (update.skipped) skippedSteps += 1;
    finalLoss = loss;
    const seconds = (performance.now() - stepStarted) / 1000;
    const record: StepRecord = {
      step: step + 1, loss, imgs_per_s: options.batch / seconds, epoch, lr: update.lr,
      grad_norm: update.gradientNorm, skipped: update.skipped, step_seconds: seconds,
    };
    metrics.append(record);
    hooks.onStep?.(record);
    if (options.sampleEvery > 0 && (step + 1) % options.sampleEvery === 0 && step + 1 < options.steps) await writeGrid(step + 1);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  await writeGrid(options.steps);
  const weightsPath = join(options.out, 'weights.ddpm');
  saveWeights(weightsPath, {
    meta: { kind: 'weights', preset: options.preset, config, schedule: options.schedule, step: options.steps },
    params: optimizer.params,
    ema: optimizer.ema,
  });
  return {
    steps: options.steps, wallSeconds, imgsPerS: (options.steps * options.batch) / wallSeconds,
    finalLoss, skippedSteps, weightsPath, sampleGrids: grids,
  };
}
