import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

/** A tiny `ddpm train` (mnist-tiny, wasm, 8 images) writing a checkpoint (~0.7 MB) every step. */
const TRAIN = [
  ...['train', '--preset', 'mnist-tiny', '--backend', 'wasm', '--batch', '2', '--dataset-limit', '8'],
  ...['--timesteps', '20', '--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--no-metrics'],
  ...['--checkpoint-every', '1'],
];

function ddpm(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, DDPM_LOG_LEVEL: 'warn' }, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-run-dir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A tmpfs of `size` at `dir` (root only), unmounted at teardown. */
function tmpfs(t: { teardown(fn: () => void): void }, dir: string, options: string): void {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  } catch (error) {
    throw new Error(`this test needs root to mount a small tmpfs (mount -t tmpfs): ${(error as Error).message}`);
  }
  t.teardown(() => execFileSync('umount', [dir]));
}

function metricSteps(out: string): number[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { step: number }).step);
}

test('re-running into a used --out without --resume is refused with exit 2 and the fix; --resume never duplicates steps', async (t) => {
  const out = join(tempDir(t), 'run');
  t.is((await ddpm([...TRAIN, '--steps', '3', '--out', out])).code, 0);
  const again = await ddpm([...TRAIN, '--steps', '3', '--out', out]);
  t.is(again.code, 2);
  t.regex(again.stderr, /--out .*run is not empty \(.*metrics\.jsonl.*\).*Continue that run with --resume latest/);
  t.deepEqual(metricSteps(out), [1, 2, 3], 'the refused run wrote nothing');
  // Lines after the checkpoint the run resumes from (as a kill leaves them) are dropped, not repeated.
  writeFileSync(join(out, 'metrics.jsonl'), `${readFileSync(join(out, 'metrics.jsonl'), 'utf8')}{"step":4,"loss":1}\n`);
  rmSync(join(out, 'checkpoints', 'step-000000003.ckpt'));
  t.is((await ddpm([...TRAIN, '--steps', '5', '--resume', 'latest', '--out', out])).code, 0);
  t.deepEqual(metricSteps(out), [1, 2, 3, 4, 5]);
});

test('a full disk during a checkpoint stops training with exit 1, the path, the fix and the last good checkpoint', async (t) => {
  const disk = join(tempDir(t), 'disk');
  tmpfs(t, disk, 'size=1m');
  const out = join(disk, 'run');
  const result = await ddpm([...TRAIN, '--steps', '5', '--out', out]);
  t.is(result.code, 1);
  const checkpoints = join(out, 'checkpoints');
  t.regex(result.stderr, /No space left on the device \(ENOSPC\) writing the checkpoint .*step-000000002\.ckpt/);
  t.regex(result.stderr, /Free space on that filesystem .*or pass --out on one with room/);
  t.true(
    result.stderr.includes(`the last good checkpoint is ${join(checkpoints, 'step-000000001.ckpt')}`),
    result.stderr,
  );
  t.regex(result.stderr, /--resume latest/);
  t.deepEqual(
    execFileSync('ls', ['-A', checkpoints], { encoding: 'utf8' }).trim().split('\n'),
    ['step-000000001.ckpt'],
    'no partial temp file is left',
  );
});

test('a full disk while writing the final weights exits 1 naming the file; --resume latest then writes them', async (t) => {
  const dir = tempDir(t);
  const disk = join(dir, 'disk');
  tmpfs(t, disk, 'size=1m');
  const out = join(disk, 'run');
  // No checkpoint until the end: the final one (~0.7 MB) fits, the weights (~0.36 MB) after it do not.
  const args = [...TRAIN, '--steps', '3', '--checkpoint-every', '0', '--checkpoint-seconds', '0'];
  const result = await ddpm([...args, '--out', out]);
  t.is(result.code, 1);
  t.true(result.stderr.includes(`(ENOSPC) writing the final weights ${join(out, 'weights.ddpm')}`), result.stderr);
  t.regex(result.stderr, /The final checkpoint holds the same state: free space, then run again with --resume latest/);
  const moved = join(dir, 'run');
  execFileSync('cp', ['-r', out, moved]);
  const resumed = await ddpm([...args, '--resume', 'latest', '--out', moved]);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stdout, /done: 3 steps/);
  t.deepEqual(metricSteps(moved), [1, 2, 3]);
});

test('a read-only --out and an --out below a file exit 2 naming the path and the fix, before any work', async (t) => {
  const dir = tempDir(t);
  const readOnly = join(dir, 'ro');
  tmpfs(t, readOnly, 'size=1m,ro');
  const ro = await ddpm([...TRAIN, '--steps', '1', '--out', join(readOnly, 'a', 'run')]);
  t.is(ro.code, 2);
  t.true(ro.stderr.includes(`${readOnly} is on a read-only filesystem (EROFS)`), ro.stderr);
  t.regex(ro.stderr, /Pass --out on a writable filesystem, or remount it read-write/);
  t.notRegex(ro.stderr, /ENOENT/);
  writeFileSync(join(dir, 'file'), '');
  const blocked = await ddpm([...TRAIN, '--steps', '1', '--out', join(dir, 'file', 'run')]);
  t.is(blocked.code, 2);
  t.true(blocked.stderr.includes(`${join(dir, 'file')} is a file, not a directory (ENOTDIR)`), blocked.stderr);
  t.regex(blocked.stderr, /Pass --out naming a directory, or move that file away/);
});

test('an --out this user may not write exits 2 naming the directory, the user and the fix', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o555 });
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    // As user nobody (setpriv, util-linux), since root may write anywhere.
    const args = ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, BIN];
    execFile('setpriv', [...args, ...TRAIN, '--steps', '1', '--out', join(locked, 'run')], (error, _out, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stderr }),
    );
  });
  t.is(result.code, 2, result.stderr);
  t.true(result.stderr.includes(`user 65534 may not write ${locked}.`), result.stderr);
  t.regex(result.stderr, /Permission denied \(EACCES\).*Pass --out in a directory this user can write/);
});

test("ddpm local on a full disk exits 1 repeating its coordinator's message with the last good checkpoint", async (t) => {
  const disk = join(tempDir(t), 'disk');
  tmpfs(t, disk, 'size=1m');
  const out = join(disk, 'run');
  const local = ['local', '--workers', '1', ...TRAIN.slice(1).filter((arg) => arg !== '--no-metrics')]; // local has no metrics flags
  const result = await ddpm([...local, '--steps', '5', '--out', out]);
  t.is(result.code, 1);
  t.regex(
    result.stderr,
    /the coordinator exited with status 1: No space left on the device \(ENOSPC\) writing the checkpoint/,
  );
  t.true(result.stderr.includes(`last good checkpoint is ${join(out, 'checkpoints', 'step-000000001.ckpt')}`));
  t.true(result.stderr.includes(`see ${join(out, 'logs', 'coordinator.log')}`), result.stderr);
});
