import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { makeSchedule } from '@ddpm/diffusion-core';
import { RunRecorder, type Checkpoint, type CheckpointStore, type RunConfig, type StepRecord } from '@ddpm/training';
import type { UNet } from '@ddpm/unet';

/** Where a run's files go and who hears about them. */
export interface LifecycleOptions {
  readonly run: RunConfig;
  /** Checkpoints are written here (none: the run writes no checkpoints). */
  readonly store?: CheckpointStore;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  readonly onStep?: (record: StepRecord) => void;
  readonly onSampleGrid?: (path: string, step: number) => void;
  /** Takes the EMA weights for a sample-quality evaluation off the training path (see @ddpm/evaluation EvalRunner). */
  readonly evaluation?: { submit(step: number, ema: Float32Array): void };
}

/**
 * The files of one run directory: metrics.jsonl lines, sample grids, checkpoints, and at the end the final grid,
 * weights.ddpm and summary.json (RunRecorder). The same for `ddpm train`, `ddpm local` and `ddpm coordinator`.
 * Does not: decide when any of it is due (CoordinatorEngine does).
 */
export class RunLifecycle {
  private readonly recorder: RunRecorder;

  /**
   * `resumedAt`: the step a resumed run continues from. metrics.jsonl keeps only the lines up to it (none for a run
   * that starts at step 0, e.g. `--resume latest` before any checkpoint), so no step is ever recorded twice.
   */
  constructor(
    private readonly options: LifecycleOptions,
    model: UNet,
    resumedAt?: number,
  ) {
    this.recorder = new RunRecorder(options.run, model, makeSchedule(options.run.schedule));
    this.recorder.resumeAt(resumedAt ?? 0);
  }

  record(record: StepRecord): void {
    this.recorder.recordStep(record);
    this.options.onStep?.(record);
  }

  async grid(step: number, ema: Float32Array): Promise<string> {
    const path = await this.recorder.writeGrid(step, ema);
    this.options.onSampleGrid?.(path, step);
    return path;
  }

  /** Hands the EMA to the evaluation, which copies it and returns at once; nothing when evaluation is off. */
  evaluate(step: number, ema: Float32Array): void {
    this.options.evaluation?.submit(step, ema);
  }

  /** Writes `checkpoint` (atomically, see CheckpointStore) and returns its path. */
  checkpoint(checkpoint: Checkpoint, why: string): string | undefined {
    const store = this.options.store;
    if (store === undefined) return undefined;
    const { step } = checkpoint.meta;
    const { path, seconds } = store.write(checkpoint);
    this.options.metrics?.recordCheckpoint({ step, durationSeconds: seconds });
    const figures = { step, path, seconds: Number(seconds.toFixed(3)), why };
    this.options.log.info(figures, `checkpoint of step ${step} written (${why})`);
    return path;
  }

  /** The final grid, weights.ddpm and summary.json; returns the weights path. */
  async finish(
    step: number,
    params: Float32Array,
    ema: Float32Array,
    summary: Record<string, unknown>,
  ): Promise<string> {
    const { weightsPath, grid } = await this.recorder.finish(step, params, ema, summary);
    this.options.onSampleGrid?.(grid, step);
    return weightsPath;
  }
}
