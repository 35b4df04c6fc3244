import { mkdirSync, readdirSync } from 'node:fs';
import { explainFsError } from '@ddpm/training';
import { LOCK_FILE, RunLock } from './run-lock.ts';

/** A bad --out: exit status 2, as for any bad flag. */
export class RunDirectoryError extends Error {
  readonly exitCode = 2;
}

/** What {@link openRunDirectory} needs to know. */
export interface RunDirectoryRequest {
  readonly out: string;
  /** The --resume value, if any: only a resumed run may start in a directory that already holds files. */
  readonly resume?: string;
  /** The subcommand (train, local, coordinator), recorded in the lock. */
  readonly command: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Prepares --out before any work: creates it (a read-only, unwritable or file-blocked path fails here, exit 2, with
 * the path and the fix), takes its lock (see RunLock) and refuses a directory that already holds a run unless
 * --resume was given, so two runs never mix their metrics.jsonl, samples and checkpoints. A child of `ddpm local`
 * shares its parent's lock, and the parent did the emptiness check. Returns the lock; release it when done.
 */
export function openRunDirectory(request: RunDirectoryRequest): RunLock {
  const { out, resume, command } = request;
  try {
    mkdirSync(out, { recursive: true });
  } catch (error) {
    throw explainFsError(error, { path: out, doing: 'creating the run directory', exitCode: 2 });
  }
  const lock = RunLock.acquire(out, command, request.env);
  if (lock.shared || resume !== undefined) return lock;
  const contents = readdirSync(out).filter((name) => name !== LOCK_FILE && !name.startsWith(`${LOCK_FILE}.`));
  if (contents.length > 0) {
    lock.release();
    const shown = contents.slice(0, 4).join(', ') + (contents.length > 4 ? ', ...' : '');
    throw new RunDirectoryError(
      `--out ${out} is not empty (${shown}): a new run would mix its files with an earlier run's. Continue that run with --resume latest, pass a new --out, or delete ${out} to start over.`,
    );
  }
  return lock;
}
