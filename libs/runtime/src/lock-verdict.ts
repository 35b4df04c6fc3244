import { readFileSync } from 'node:fs';

/** What OUT/run.lock says about its holder. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601 time the lock was taken. */
  readonly startedAt: string;
  /** The ddpm subcommand holding it (train, local, coordinator). */
  readonly command: string;
}

/** What the process asking for the lock knows about itself and the world. */
export interface LockProbe {
  readonly pid: number;
  readonly host: string;
  readonly nowMs: number;
  /** The lock file's modification time (the holder refreshes it every 15 s). */
  readonly refreshedMs: number;
  /** Whether a process with this pid exists on this host. */
  alive(pid: number): boolean;
  /** When the process with this pid started (epoch ms), where the OS says so. */
  startedMs(pid: number): number | undefined;
  /** `pid@host` of a holder this process may share the lock with (the parent `ddpm local`). */
  readonly sharedWith?: string;
}

export type LockVerdict = { kind: 'held' } | { kind: 'shared' } | { kind: 'stale'; reason: string };

/** A lock not refreshed for this long is stale when its holder is on another host (whose pids cannot be checked). */
export const STALE_AFTER_MS = 60_000;
/** A live process with the holder's pid that started this much later than the lock was taken is a reused pid. */
const PID_REUSE_SLACK_MS = 30_000;

/**
 * Decides what an existing lock means, without touching the file system: `shared` for the parent's lock that this
 * child may use; `stale` when the holder is certainly gone (unreadable lock; on this host, a dead pid, our own pid,
 * or a pid reused by a later process, as in a restarted container; on another host, no refresh for
 * STALE_AFTER_MS); otherwise `held`.
 */
export function lockVerdict(holder: LockHolder | undefined, probe: LockProbe): LockVerdict {
  if (holder === undefined) return { kind: 'stale', reason: 'the lock file is unreadable' };
  if (probe.sharedWith === `${holder.pid}@${holder.host}`) return { kind: 'shared' };
  const since = `pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}`;
  if (holder.host !== probe.host) {
    const silentMs = probe.nowMs - probe.refreshedMs;
    if (silentMs > STALE_AFTER_MS)
      return { kind: 'stale', reason: `${since}: not refreshed for ${Math.round(silentMs / 1000)} s` };
    return { kind: 'held' };
  }
  if (holder.pid === probe.pid) return { kind: 'stale', reason: `${since}: left by an earlier process with our pid` };
  if (!probe.alive(holder.pid)) return { kind: 'stale', reason: `${since}: that process is gone` };
  const started = probe.startedMs(holder.pid);
  const taken = Date.parse(holder.startedAt);
  if (started !== undefined && Number.isFinite(taken) && started > taken + PID_REUSE_SLACK_MS)
    return { kind: 'stale', reason: `${since}: the pid now belongs to a process started later` };
  return { kind: 'held' };
}

/** The start time of process `pid` from /proc (Linux), or undefined elsewhere. */
export function processStartedMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (boot === null || !Number.isFinite(ticks)) return undefined;
    return Number(boot[1]) * 1000 + ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
