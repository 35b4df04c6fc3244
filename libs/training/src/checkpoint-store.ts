import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.ts';
import { explainFsError } from './fs-errors.ts';
import type { StateFileWriteOptions } from './state-file.ts';

const NAME = /^step-(\d{9})\.ckpt$/;
const TEMP = /^\.step-\d{9}\.ckpt\.\d+\.tmp$/;

/** A checkpoint file that could not be used, and why. */
export interface RejectedCheckpoint {
  readonly path: string;
  readonly reason: string;
}

/** The checkpoint chosen for a resume. */
export interface FoundCheckpoint {
  readonly path: string;
  readonly checkpoint: Checkpoint;
  /** Newer files that were skipped because they are unreadable (truncated, corrupt). */
  readonly rejected: readonly RejectedCheckpoint[];
}

/**
 * The checkpoints of one run: `DIR/step-NNNNNNNNN.ckpt`, one per saved step, the newest K kept.
 *
 * Promises: {@link write} is atomic (see saveCheckpoint), then deletes all but the newest `keep` files, so the newest
 * file on disk is always complete; {@link latest} returns the newest file that reads back with valid checksums and
 * reports every newer one it had to skip.
 * Does not: decide when to checkpoint (the coordinator does), or lock the directory against a second writer.
 */
export class CheckpointStore {
  constructor(
    readonly dir: string,
    readonly keep: number,
    private readonly writeOptions: StateFileWriteOptions = {},
  ) {
    if (!Number.isInteger(keep) || keep < 1)
      throw new RangeError(
        `CheckpointStore: keep must be a positive integer, got ${keep}; pass --keep-checkpoints 1 or more.`,
      );
  }

  /** The file name of the checkpoint after `step` steps. */
  pathFor(step: number): string {
    return join(this.dir, `step-${String(step).padStart(9, '0')}.ckpt`);
  }

  /**
   * Writes the checkpoint, prunes old ones; returns its path and how long the write took. A filesystem failure (a
   * full disk, a read-only one) throws an FsFailure naming the file, the fix and the last good checkpoint.
   */
  write(checkpoint: Checkpoint): { path: string; seconds: number } {
    const started = performance.now();
    const path = this.pathFor(checkpoint.meta.step);
    try {
      mkdirSync(this.dir, { recursive: true });
      saveCheckpoint(path, checkpoint, this.writeOptions);
    } catch (error) {
      throw explainFsError(error, { path, doing: 'writing the checkpoint', extra: this.lastGood(path) });
    }
    for (const old of this.list().slice(this.keep)) rmSync(old, { force: true });
    return { path, seconds: (performance.now() - started) / 1000 };
  }

  /** Names the newest complete checkpoint other than `failed` (files appear only complete: writes are atomic). */
  private lastGood(failed: string): string {
    const last = this.list().find((file) => file !== failed);
    if (last === undefined) return 'No checkpoint of this run was written yet; the run stops here.';
    return `Training stopped; the last good checkpoint is ${last} (continue from it with --resume latest once there is room).`;
  }

  /** Checkpoint files, newest (highest step) first. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((name) => NAME.test(name))
      .sort()
      .reverse()
      .map((name) => join(this.dir, name));
  }

  /** Deletes temp files left by a writer that was killed mid-write; returns how many. */
  removeStaleTemps(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    const stale = names.filter((name) => TEMP.test(name));
    for (const name of stale) rmSync(join(this.dir, name), { force: true });
    return stale.length;
  }

  /**
   * The newest checkpoint that reads back intact, or undefined when the directory holds no checkpoint file at all.
   * Throws, listing every file and its problem, when there are checkpoint files but none is readable.
   */
  latest(): FoundCheckpoint | undefined {
    const rejected: RejectedCheckpoint[] = [];
    for (const path of this.list()) {
      try {
        return { path, checkpoint: loadCheckpoint(path), rejected };
      } catch (error) {
        rejected.push({ path, reason: (error as Error).message });
      }
    }
    if (rejected.length === 0) return undefined;
    throw new Error(
      `No readable checkpoint in ${this.dir}: ${rejected.map((r) => r.reason).join(' ')} Pass --resume PATH with a good file, or start a new run in another --out.`,
    );
  }
}
