import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, writeStateFile } from './state-file.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a state file round-trips metadata and sections, leaving no temp file behind', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'weights.ddpm');
  const params = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
  writeStateFile(path, { preset: 'mnist-bench', step: 7 }, { params, ema: Float32Array.of(1, 2) });
  const { meta, sections } = readStateFile<{ preset: string; step: number }>(path);
  t.deepEqual(meta, { preset: 'mnist-bench', step: 7 });
  t.deepEqual(sections.get('params'), params);
  t.deepEqual(sections.get('ema'), Float32Array.of(1, 2));
  t.deepEqual(readdirSync(dir), ['weights.ddpm']);
});

const corruptions: [string, (b: Buffer) => Buffer, RegExp][] = [
  ['truncated payload', (b) => b.subarray(0, b.length - 3), /payload holds/],
  ['truncated header', (b) => b.subarray(0, 30), /header runs past|payload holds/],
  [
    'flipped payload byte',
    (b) => {
      const c = Buffer.from(b);
      c[c.length - 5] ^= 0x10;
      return c;
    },
    /payload checksum/,
  ],
  [
    'flipped header byte',
    (b) => {
      const c = Buffer.from(b);
      c[25] ^= 0x01;
      return c;
    },
    /header checksum/,
  ],
  ['foreign file', () => Buffer.from('{"not":"ours"}'), /bad magic/],
  ['empty file', () => Buffer.alloc(0), /bad magic/],
];

for (const [name, corrupt, expected] of corruptions) {
  test(`a ${name} is rejected with a message naming the file and the fix`, (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'w.ddpm');
    writeStateFile(path, { step: 1 }, { params: Float32Array.of(1, 2, 3, 4) });
    writeFileSync(path, corrupt(readFileSync(path)));
    const error = t.throws(() => readStateFile(path));
    t.regex(error.message, expected);
    t.true(error.message.includes(path));
    t.regex(error.message, /earlier checkpoint|re-run/);
  });
}

test('a missing file gets an error that says where final weights live', (t) => {
  const error = t.throws(() => readStateFile('/nonexistent/weights.ddpm'));
  t.regex(error.message, /Cannot read .*weights\.ddpm/);
});
