import * as tf from '@tensorflow/tfjs-core';
import { makeSchedule, Rng } from '@ddpm/diffusion-core';
import { checkWebGpuTensorBytes } from '@ddpm/backend';
import { largestActivationElements, resolvePreset, UNet } from '@ddpm/unet';
import { computeGradient } from './compute-gradient.ts';
import { DEFAULT_OPTIMIZER, Optimizer } from './optimizer.ts';
import { drawTrainingInputs } from './sample-draws.ts';

export interface BenchStepOptions {
  readonly preset: string;
  readonly batch: number;
  /** Untimed steps first (kernel set-up, weight packing). */
  readonly warmup: number;
  /** Timed steps; the median is reported. */
  readonly repeats: number;
}

export interface BenchStepResult {
  readonly params: number;
  /** Median milliseconds of one whole training step. */
  readonly msPerStep: number;
  readonly samplesMs: readonly number[];
}

/**
 * Times whole training steps on the current backend: drawing t and ε, forward noising, the U-Net forward and
 * backward pass, clipping, Adam and the EMA. Inputs are random images in [-1, 1] (the data pipeline is not timed).
 * Does not: select a backend (the caller does) or write anything.
 */
export async function benchTrainingStep(options: BenchStepOptions): Promise<BenchStepResult> {
  const config = resolvePreset(options.preset);
  const model = new UNet(config);
  const bytes = 4 * options.batch * largestActivationElements(config);
  checkWebGpuTensorBytes(bytes, `The largest activation of ${options.preset} at --batch ${options.batch}`);
  const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
  const optimizer = new Optimizer(model.initialParameters(0), DEFAULT_OPTIMIZER);
  const shape: [number, number, number, number] = [
    options.batch,
    config.imageSize,
    config.imageSize,
    config.inChannels,
  ];
  const rng = new Rng(1);
  const pixels = Float32Array.from({ length: shape[0] * shape[1] * shape[2] * shape[3] }, () => rng.uniform() * 2 - 1);
  const x0 = tf.tensor4d(pixels, shape);
  const indices = Array.from({ length: options.batch }, (_, i) => i);
  const samplesMs: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.repeats; i++) {
      const started = performance.now();
      const inputs = drawTrainingInputs(0, i, indices, shape[1] * shape[2] * shape[3], schedule.timesteps);
      const { gradient } = await computeGradient(model, schedule, optimizer.params, x0, inputs);
      optimizer.apply(gradient, i);
      if (i >= options.warmup) samplesMs.push(performance.now() - started);
      await tf.nextFrame();
    }
  } finally {
    x0.dispose();
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const msPerStep = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { params: optimizer.params.length, msPerStep, samplesMs };
}
