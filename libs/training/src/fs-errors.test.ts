import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImageGrid } from '@ddpm/data';
import { explainFsError, FsFailure } from './fs-errors.ts';

function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, path });
}

test('ENOSPC, EROFS and EACCES name the path, the flag and the fix, and carry an exit code', (t) => {
  const full = explainFsError(systemError('ENOSPC', 'write'), { path: '/runs/x/weights.ddpm', doing: 'writing' });
  t.true(full instanceof FsFailure);
  t.regex((full as Error).message, /No space left on the device \(ENOSPC\) writing \/runs\/x\/weights\.ddpm/);
  t.regex((full as Error).message, /df -h \/runs\/x.*pass --out on one with room/);
  t.is((full as FsFailure).exitCode, 1);
  const readOnly = explainFsError(systemError('EROFS', 'open', '/ro/run/metrics.jsonl'), { exitCode: 2 });
  t.regex((readOnly as Error).message, /read-only filesystem \(EROFS\).*Pass --out on a writable filesystem/);
  t.is((readOnly as FsFailure).exitCode, 2);
  const denied = explainFsError(systemError('EACCES', 'open', '/srv/run/x'), { flag: '--weights' });
  t.regex((denied as Error).message, /Permission denied \(EACCES\).*\/srv\/run\/x.*Pass --weights in a directory/);
});

test('ENOTDIR and ENOENT from mkdir are traced to the file in the way; other errors pass through', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-fs-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  let thrown: unknown;
  try {
    mkdirSync(join(dir, 'file', 'a', 'b'), { recursive: true });
  } catch (error) {
    thrown = error;
  }
  const explained = explainFsError(thrown);
  t.regex((explained as Error).message, new RegExp(`${join(dir, 'file')} is a file, not a directory \\(ENOTDIR\\)`));
  t.regex((explained as Error).message, /Pass --out naming a directory, or move that file away/);
  const missing = systemError('ENOENT', 'open', join(dir, 'nothing'));
  t.is(explainFsError(missing), missing, 'a missing file that is read is not a write problem');
  const plain = new Error('boom');
  t.is(explainFsError(plain), plain);
  const noPath = systemError('ENOSPC', 'write');
  t.is(explainFsError(noPath), noPath, 'no path known: left unchanged');
});

test("a sample grid's write failure keeps its code and path, so it is explained like any other", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-fs-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  const grid = join(dir, 'file', 'grid.png');
  let thrown: unknown;
  try {
    writeImageGrid(grid, new Float32Array(4), 1, 2, 2, 1);
  } catch (error) {
    thrown = error;
  }
  t.like(thrown, { code: 'ENOTDIR', path: grid });
  const explained = explainFsError(thrown) as FsFailure;
  t.is(
    explained.message,
    `${join(dir, 'file')} is a file, not a directory (ENOTDIR), so writing ${grid} failed. Pass --out naming a directory, or move that file away.`,
  );
});
