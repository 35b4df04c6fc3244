import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DiffusionSchedule, ScheduleConfig } from '@ddpm/diffusion-core';
import { writeImageGrid } from '@ddpm/data';
import type { UNet } from '@ddpm/unet';
import { explainFsError } from './fs-errors.ts';
import { MetricsLog, type StepRecord } from './metrics-log.ts';
import { drawSamples } from './sampling.ts';
import { saveWeights } from './weights-file.ts';

/** True when a sample grid is due after `step` steps of the run (the final grid is written by RunRecorder.finish). */
export function sampleGridDue(run: { readonly sampleEvery: number; readonly steps: number }, step: number): boolean {
  return run.sampleEvery > 0 && step % run.sampleEvery === 0 && step < run.steps;
}

/** How a run directory is filled. */
export interface RecorderOptions {
  /** The run directory. */
  readonly out: string;
  readonly preset: string;
  readonly schedule: ScheduleConfig;
  readonly seed: number;
  /** Write a grid every this many steps (0: only at the end). */
  readonly sampleEvery: number;
  readonly sampleCount: number;
  /** DDIM steps for the grids. */
  readonly sampleSteps: number;
}

/**
 * Writes one run directory: `metrics.jsonl` (one line per step), `samples/step-NNNNNN.png` (grids drawn from the
 * EMA weights with DDIM), `weights.ddpm` (final parameters and EMA) and `summary.json`.
 * Used by single-process training and by the coordinator, so both leave the same files behind.
 * Does not: write checkpoints (see CheckpointStore).
 */
export class RunRecorder {
  private readonly metrics: MetricsLog;
  private readonly samplesDir: string;
  readonly grids: string[] = [];

  constructor(
    private readonly options: RecorderOptions,
    private readonly model: UNet,
    private readonly schedule: DiffusionSchedule,
  ) {
    this.metrics = new MetricsLog(join(options.out, 'metrics.jsonl'));
    this.samplesDir = join(options.out, 'samples');
    mkdirSync(this.samplesDir, { recursive: true });
  }

  /** For a run resumed after `step` steps: drops metrics.jsonl lines of later steps (see MetricsLog.truncateAfter). */
  resumeAt(step: number): number {
    return this.metrics.truncateAfter(step);
  }

  recordStep(record: StepRecord): void {
    this.metrics.append(record);
  }

  /** Draws and writes a grid from `ema`; returns its path. */
  async writeGrid(step: number, ema: Float32Array): Promise<string> {
    const { sampleCount, sampleSteps, seed } = this.options;
    const { imageSize, inChannels } = this.model.config;
    const images = await drawSamples(this.model, this.schedule, ema, {
      sampler: 'ddim',
      count: sampleCount,
      steps: sampleSteps,
      eta: 0,
      seed,
    });
    const path = join(this.samplesDir, `step-${String(step).padStart(6, '0')}.png`);
    try {
      writeImageGrid(path, images, sampleCount, imageSize, imageSize, inChannels);
    } catch (error) {
      throw explainFsError(error, { path, doing: 'writing the sample grid' });
    }
    this.grids.push(path);
    return path;
  }

  /** Writes the final grid, `weights.ddpm` and `summary.json`; returns the weights path and the final grid path. */
  async finish(
    step: number,
    params: Float32Array,
    ema: Float32Array,
    summary: Record<string, unknown>,
  ): Promise<{ weightsPath: string; grid: string }> {
    const grid = await this.writeGrid(step, ema);
    const weightsPath = join(this.options.out, 'weights.ddpm');
    const { preset, schedule } = this.options;
    const extra = 'The final checkpoint holds the same state: free space, then run again with --resume latest.';
    try {
      saveWeights(weightsPath, {
        meta: { kind: 'weights', preset, config: this.model.config, schedule, step },
        params,
        ema,
      });
    } catch (error) {
      throw explainFsError(error, { path: weightsPath, doing: 'writing the final weights', extra });
    }
    const summaryPath = join(this.options.out, 'summary.json');
    try {
      writeFileSync(summaryPath, `${JSON.stringify({ ...summary, weightsPath, sampleGrids: this.grids }, null, 2)}\n`);
    } catch (error) {
      throw explainFsError(error, { path: summaryPath, doing: 'writing' });
    }
    return { weightsPath, grid };
  }
}
