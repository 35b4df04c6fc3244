import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockVerdict, STALE_AFTER_MS, type LockHolder, type LockProbe } from './lock-verdict.ts';
import { LOCK_FILE, RunLock, RunLockedError } from './run-lock.ts';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const holder: LockHolder = {
  pid: 400,
  host: 'a',
  startedAt: new Date(NOW - 3_600_000).toISOString(),
  command: 'local',
};
const probe: LockProbe = {
  ...{ pid: 500, host: 'a', nowMs: NOW, refreshedMs: NOW - 1000 },
  alive: () => true,
  startedMs: () => NOW - 4_000_000,
};

test('lockVerdict: a live holder on this host holds the lock; a dead, reused or own pid makes it stale', (t) => {
  t.deepEqual(lockVerdict(holder, probe), { kind: 'held' });
  t.is(lockVerdict(holder, { ...probe, alive: () => false }).kind, 'stale');
  t.regex((lockVerdict(holder, { ...probe, alive: () => false }) as { reason: string }).reason, /gone/);
  t.is(lockVerdict(holder, { ...probe, pid: 400 }).kind, 'stale', 'a restarted container reuses our own pid');
  t.is(lockVerdict(holder, { ...probe, startedMs: () => NOW - 60_000 }).kind, 'stale', 'the pid was reused later');
  t.is(lockVerdict(holder, { ...probe, startedMs: () => undefined }).kind, 'held', 'no /proc: trust a live pid');
  t.is(lockVerdict(undefined, probe).kind, 'stale', 'an unreadable lock file');
});

test('lockVerdict: another host is trusted while it refreshes the lock; the parent lock is shared', (t) => {
  const remote = { ...probe, host: 'b', alive: () => false };
  t.is(lockVerdict(holder, remote).kind, 'held', 'a pid of another host cannot be checked');
  t.is(lockVerdict(holder, { ...remote, refreshedMs: NOW - STALE_AFTER_MS - 1 }).kind, 'stale');
  t.is(lockVerdict(holder, { ...probe, sharedWith: '400@a' }).kind, 'shared');
  t.is(lockVerdict(holder, { ...probe, sharedWith: '401@a' }).kind, 'held');
});

function tempOut(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeLock(out: string, value: LockHolder): void {
  writeFileSync(join(out, LOCK_FILE), JSON.stringify(value));
}

test('RunLock: a live holder is refused with its pid, host, start time and the fix; release removes the lock', (t) => {
  const out = tempOut(t);
  const lock = RunLock.acquire(out, 'train');
  t.teardown(() => lock.release());
  t.throws(() => RunLock.acquire(out, 'train'), { instanceOf: RunLockedError }, 'a second run in this process');
  const written = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as LockHolder;
  t.like(written, { pid: process.pid, host: hostname(), command: 'train' });
  // Our own pid would be stale (a restarted container); pid 1 is a live process that started before the lock.
  const since = new Date().toISOString();
  writeLock(out, { pid: 1, host: hostname(), startedAt: since, command: 'coordinator' });
  const error = t.throws(() => RunLock.acquire(out, 'coordinator'), { instanceOf: RunLockedError });
  t.regex(error?.message ?? '', new RegExp(`in use by ddpm coordinator \\(pid 1 on ${hostname()}, since ${since}\\)`));
  t.regex(error?.message ?? '', /pass another --out/);
  t.regex(error?.message ?? '', new RegExp(`delete ${join(out, LOCK_FILE)}`));
  lock.release();
  t.true(existsSync(join(out, LOCK_FILE)), 'release leaves a lock another process holds');
  rmSync(join(out, LOCK_FILE));
  const again = RunLock.acquire(out, 'train');
  again.release();
  t.false(existsSync(join(out, LOCK_FILE)));
});

test('RunLock: the lock of a dead process (kill -9) is taken over and reported', (t) => {
  const out = tempOut(t);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeLock(out, { pid: Number(dead.stdout), host: hostname(), startedAt: new Date().toISOString(), command: 'local' });
  const lock = RunLock.acquire(out, 'train');
  t.teardown(() => lock.release());
  t.regex(lock.tookOver ?? '', /that process is gone/);
  t.is((JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as LockHolder).pid, process.pid);
});

test("RunLock: a child shares its parent's lock through DDPM_RUN_LOCK_HOLDER; another host's stale lock is taken", (t) => {
  const out = tempOut(t);
  const parent = RunLock.acquire(out, 'local');
  t.teardown(() => parent.release());
  const child = RunLock.acquire(out, 'coordinator', { DDPM_RUN_LOCK_HOLDER: parent.token });
  t.true(child.shared);
  child.release();
  t.true(existsSync(join(out, LOCK_FILE)), "the child never removes its parent's lock");
  parent.release();
  writeLock(out, { pid: 7, host: 'elsewhere', startedAt: new Date().toISOString(), command: 'coordinator' });
  t.throws(() => RunLock.acquire(out, 'coordinator'), { message: /taken over once it has not been refreshed/ });
  const old = new Date(Date.now() - STALE_AFTER_MS - 5000);
  utimesSync(join(out, LOCK_FILE), old, old);
  const taken = RunLock.acquire(out, 'coordinator');
  taken.release();
  t.regex(taken.tookOver ?? '', /not refreshed for \d+ s/);
});
