import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadDataset, type Dataset } from '@ddpm/data';
import type { CoordinatorSummary } from '@ddpm/cluster';
import { openRunDirectory, type CheckpointFlags, type RunFlags, type RunLock } from '@ddpm/runtime';
import { CheckpointStore, limitDataset, loadCheckpoint, type FoundCheckpoint } from '@ddpm/training';
import { resolvePreset } from '@ddpm/unet';

/**
 * Test hook (not a flag): DDPM_FAULT_CHECKPOINT_PAUSE_MS makes every checkpoint write pause that long half-way through
 * its temp file, so tests can kill the process in the middle of a write. Never set it in production.
 */
function checkpointPauseMs(): number {
  const value = Number(process.env.DDPM_FAULT_CHECKPOINT_PAUSE_MS ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Takes --out for `command` before any work: creates it, locks it (one owner per run directory) and refuses a
 * non-empty one without --resume (see openRunDirectory). Logs a stale lock that was taken over.
 */
export function claimRunDirectory(flags: { out: string; resume?: string }, command: string, log: Logger): RunLock {
  const lock = openRunDirectory({ out: flags.out, resume: flags.resume, command });
  if (lock.tookOver !== undefined)
    log.warn({ path: lock.path }, `took over a stale run lock (${lock.tookOver}); its process no longer runs`);
  return lock;
}

/** The checkpoint named by --resume: `latest` (newest readable in OUT/checkpoints, or none yet) or a path. */
export function findResumeCheckpoint(
  spec: string | undefined,
  store: CheckpointStore,
  log: Logger,
): FoundCheckpoint | undefined {
  if (spec === undefined) return undefined;
  if (spec !== 'latest') return { path: spec, checkpoint: loadCheckpoint(spec), rejected: [] };
  const removed = store.removeStaleTemps();
  if (removed > 0)
    log.warn({ dir: store.dir, removed }, `removed ${removed} unfinished checkpoint temp file(s) left by a killed run`);
  const found = store.latest();
  for (const rejected of found?.rejected ?? [])
    log.error({ path: rejected.path }, `skipping unreadable checkpoint: ${rejected.reason}`);
  if (found === undefined)
    log.info({ dir: store.dir }, `--resume latest: no checkpoint in ${store.dir} yet; starting a new run`);
  else
    log.info(
      { path: found.path, step: found.checkpoint.meta.step },
      `resuming from ${found.path} (step ${found.checkpoint.meta.step})`,
    );
  return found;
}

/** The checkpoint store of OUT and the checkpoint --resume names. */
export function openCheckpoints(
  flags: RunFlags & CheckpointFlags,
  log: Logger,
): {
  store: CheckpointStore;
  resume: FoundCheckpoint | undefined;
  policy: { everySteps: number; everySeconds: number };
} {
  const store = new CheckpointStore(join(flags.out, 'checkpoints'), flags.keepCheckpoints, {
    pauseMidWriteMs: checkpointPauseMs(),
  });
  const resume = findResumeCheckpoint(flags.resume, store, log);
  return { store, resume, policy: { everySteps: flags.checkpointEvery, everySeconds: flags.checkpointSeconds } };
}

/** The run's dataset at the preset's image size and channels (--data, --dataset-limit). */
export async function loadRunDataset(flags: RunFlags & { datasetLimit?: number }): Promise<Dataset> {
  const preset = resolvePreset(flags.preset);
  const channels = preset.inChannels === 1 ? 1 : 3;
  return limitDataset(await loadDataset(flags.data, { size: preset.imageSize, channels }), flags.datasetLimit);
}

/** The last line a run prints: where the weights are, or how to continue a stopped run. */
export function summaryLine(summary: CoordinatorSummary, batch?: number): string {
  if (summary.stopped !== undefined) {
    const checkpoint = summary.stopped.checkpoint ?? 'none';
    return `stopped by ${summary.stopped.signal} after ${summary.steps} steps; checkpoint ${checkpoint}; continue with --resume latest\n`;
  }
  const speed = batch === undefined ? '' : `, ${((summary.steps * batch) / summary.wallSeconds).toFixed(1)} img/s`;
  return `done: ${summary.steps} steps in ${summary.wallSeconds.toFixed(1)} s${speed}, final loss ${summary.finalLoss.toFixed(4)}, ${summary.skippedSteps} skipped; weights ${summary.weightsPath}\n`;
}

/** Runs `stop` on the first SIGTERM or SIGINT while `work` runs; the handlers are removed afterwards. */
export async function stoppableBy<T>(stop: (signal: NodeJS.Signals) => void, work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => stop(signal);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    return await work();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
