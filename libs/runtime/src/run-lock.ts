import { existsSync, linkSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { explainFsError } from '@ddpm/training';
import { lockVerdict, processStartedMs, type LockHolder } from './lock-verdict.ts';

/** The lock file in a run directory. */
export const LOCK_FILE = 'run.lock';
/** Set by `ddpm local` for its coordinator: `pid@host` of the parent whose lock the child may use. */
export const LOCK_HOLDER_ENV = 'DDPM_RUN_LOCK_HOLDER';
/** How often the holder refreshes the lock's modification time (other hosts judge staleness by it). */
const REFRESH_MS = 15_000;

/** Lock files this process holds: a second run in the same process is refused too (our own pid is not stale then). */
const heldHere = new Set<string>();

/** A run directory is in use by another live process. Exit status 1: wait for it, stop it, or pick another --out. */
export class RunLockedError extends Error {
  readonly exitCode = 1;
}

/**
 * One owner per run directory: OUT/run.lock holds the owner's pid, host, start time and command.
 * Promises: {@link acquire} creates the file atomically (a complete temp file hard-linked into place, so two racing
 * processes cannot both win); a live holder makes it throw a RunLockedError naming the holder and the fix; a stale
 * lock (see lockVerdict) is taken over and reported in `tookOver`. The lock is removed on {@link release} and at
 * process exit; a SIGKILLed holder leaves a stale lock that the next owner takes over.
 */
export class RunLock {
  /** Why a stale lock was taken over (for a warning), if one was. */
  tookOver: string | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onExit = (): void => this.release();

  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
    /** True when the lock belongs to the parent `ddpm local` (DDPM_RUN_LOCK_HOLDER); it is neither refreshed nor removed. */
    readonly shared: boolean,
  ) {
    if (shared) return;
    heldHere.add(path);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
    process.once('exit', this.onExit);
  }

  /** Takes OUT/run.lock for `command` (train, local, coordinator). OUT must exist. */
  static acquire(out: string, command: string, env: NodeJS.ProcessEnv = process.env): RunLock {
    const path = join(out, LOCK_FILE);
    const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
    let tookOver: string | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (create(path, me)) {
        const lock = new RunLock(path, me, false);
        lock.tookOver = tookOver;
        return lock;
      }
      if (!existsSync(path)) continue; // released between the two calls
      const holder = readHolder(path);
      const verdict = lockVerdict(holder, {
        ...{ pid: me.pid, host: me.host, nowMs: Date.now(), refreshedMs: modifiedMs(path) },
        ...{ alive: isAlive, startedMs: processStartedMs, sharedWith: env[LOCK_HOLDER_ENV] },
      });
      if (verdict.kind === 'shared' && holder !== undefined) return new RunLock(path, holder, true);
      const ours = verdict.kind === 'stale' && heldHere.has(path); // our pid, and this very process holds it
      if ((verdict.kind === 'held' || ours) && holder !== undefined)
        throw new RunLockedError(heldMessage(out, path, holder, me));
      tookOver = verdict.kind === 'stale' ? verdict.reason : undefined;
      try {
        unlinkSync(path);
      } catch {
        // another process removed it first; try again
      }
    }
    throw new RunLockedError(`Could not take ${path}: other processes keep taking it. Pass another --out.`);
  }

  /** Removes the lock if this process still holds it. Safe to call twice. */
  release(): void {
    if (this.shared) return;
    clearInterval(this.timer);
    process.off('exit', this.onExit);
    heldHere.delete(this.path);
    const holder = readHolder(this.path);
    if (holder?.pid !== this.holder.pid || holder.host !== this.holder.host) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  /** `pid@host`, the value of DDPM_RUN_LOCK_HOLDER that lets a child process use this lock. */
  get token(): string {
    return `${this.holder.pid}@${this.holder.host}`;
  }

  private refresh(): void {
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // the next refresh tries again; a missing file is retaken by nobody while this process lives
    }
  }
}

/** Creates the lock file with its content in one step; false when one exists. */
function create(path: string, holder: LockHolder): boolean {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(holder)}\n`);
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw explainFsError(error, { path, doing: 'creating the run lock', exitCode: 2 });
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // never created
    }
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string' || typeof value.startedAt !== 'string')
      return undefined;
    return { pid: value.pid, host: value.host, startedAt: value.startedAt, command: String(value.command ?? '?') };
  } catch {
    return undefined;
  }
}

function modifiedMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function heldMessage(out: string, path: string, holder: LockHolder, me: LockHolder): string {
  const who = `ddpm ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`;
  const gone =
    holder.host === me.host
      ? `If that process is gone and the lock remains, delete ${path}.`
      : `A lock from another host is taken over once it has not been refreshed for a minute; if that host is down, delete ${path}.`;
  return `--out ${out} is in use by ${who}: only one process may write a run directory. Stop that process or wait for it to finish, or pass another --out. ${gone}`;
}
