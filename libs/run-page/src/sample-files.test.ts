import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSampleName, listSamples, newestFirst, openSample } from './sample-files.mjs';

const dir = mkdtempSync(join(tmpdir(), 'ddpm-sample-files-'));
const samples = join(dir, 'samples');
mkdirSync(samples);
for (const step of [250, 1000, 500]) writeFileSync(join(samples, `step-${String(step).padStart(6, '0')}.png`), 'png');
writeFileSync(join(dir, 'secret.png'), 'outside');
symlinkSync(join(dir, 'secret.png'), join(samples, 'link.png'));
mkdirSync(join(samples, 'dir.png'));
writeFileSync(join(samples, 'notes.txt'), 'not a grid');
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('only plain PNG file names are servable', (t) => {
  t.true(isSampleName('step-000250.png'));
  for (const hostile of [
    '../secret.png',
    '..png',
    'a/../b.png',
    '.hidden.png',
    '/etc/passwd',
    'x.png/..',
    'step.png\0',
    'a\\b.png',
    '%2e%2e.png',
    'x'.repeat(200) + '.png',
    'metrics.jsonl',
    '',
    undefined,
  ])
    t.false(isSampleName(hostile), String(hostile));
});

test('grids are listed newest first (by the step in the name), bounded by the limit', async (t) => {
  t.deepEqual(newestFirst(['step-000250.png', 'step-001000.png', 'step-000500.png']), [
    'step-001000.png',
    'step-000500.png',
    'step-000250.png',
  ]);
  const listed = await listSamples(samples, 2);
  t.deepEqual(listed, { total: 3, names: ['step-001000.png', 'step-000500.png'] }, 'no link, directory or .txt');
  t.deepEqual(await listSamples(join(dir, 'missing'), 5), { total: 0, names: [] });
});

test('opening refuses links out of the directory, directories, missing files and hostile names', async (t) => {
  const opened = await openSample(samples, 'step-000250.png');
  t.is(opened?.size, 3);
  await opened?.handle.close();
  t.is(await openSample(samples, 'link.png'), undefined, 'a symbolic link is not followed');
  t.is(await openSample(samples, 'dir.png'), undefined);
  t.is(await openSample(samples, 'missing.png'), undefined);
  t.is(await openSample(samples, '../secret.png'), undefined);
});
