import type { CheckpointMeta, RunConfig } from '@ddpm/training';

/**
 * Throws an error naming every difference when the flags of a resumed run change what the checkpoint's run computes:
 * preset, local batch, seed, optimizer and schedule must be the same, and so must the dataset (by fingerprint) and the
 * parameter count. --steps, --out and the sample-grid flags may differ (a run can be extended).
 */
export function checkResumeCompatible(
  path: string,
  meta: CheckpointMeta,
  run: RunConfig,
  fingerprint: string,
  parameterCount: number,
  savedCount: number,
): void {
  const differences: string[] = [];
  const compare = (flag: string, now: unknown, saved: unknown): void => {
    if (JSON.stringify(now) !== JSON.stringify(saved))
      differences.push(`${flag} is ${JSON.stringify(now)} but the checkpoint has ${JSON.stringify(saved)}`);
  };
  compare('--preset', run.preset, meta.run.preset);
  compare('--batch', run.batch, meta.run.batch);
  compare('--seed', run.seed, meta.run.seed);
  compare('--lr', run.optimizer.lr, meta.run.optimizer.lr);
  compare('--warmup', run.optimizer.warmup, meta.run.optimizer.warmup);
  compare('--clip', run.optimizer.clip, meta.run.optimizer.clip);
  compare('--ema-decay', run.optimizer.emaDecay, meta.run.optimizer.emaDecay);
  compare('Adam settings', run.optimizer.adam, meta.run.optimizer.adam);
  compare('--schedule/--timesteps', run.schedule, meta.run.schedule);
  compare('the dataset (--data, --dataset-limit)', fingerprint, meta.datasetFingerprint);
  compare('the parameter count', parameterCount, savedCount);
  if (differences.length > 0) {
    throw new Error(
      `Cannot resume from ${path}: ${differences.join('; ')}. Resume with the flags the run was started with, or start a new run in another --out.`,
    );
  }
}
