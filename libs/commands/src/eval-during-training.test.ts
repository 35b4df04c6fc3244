import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '@ddpm/runtime';
import { buildProgram } from './program.ts';

async function ddpm(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  const err = process.stderr.write.bind(process.stderr);
  const out = process.stdout.write.bind(process.stdout);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return { code: await runCommand(buildProgram(), ['node', 'ddpm', ...args]), stderr };
  } finally {
    process.stderr.write = err;
    process.stdout.write = out;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ddpm-eval-every-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('train --eval-every 5 writes eval.jsonl lines in the contract format at steps 5 and 10', async (t) => {
  const out = join(dir, 'run');
  const args = [
    'train',
    '--preset',
    'mnist-tiny',
    '--steps',
    '10',
    '--batch',
    '4',
    '--backend',
    'wasm',
    '--no-metrics',
  ];
  const result = await ddpm([...args, '--out', out, '--eval-every', '5', '--eval-count', '20', '--sample-steps', '2']);
  t.is(result.code, 0, result.stderr);
  const lines = readFileSync(join(out, 'eval.jsonl'), 'utf8').trim().split('\n');
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(
    records.map((r) => r.step),
    [5, 10],
  );
  for (const record of records) {
    const keys = ['step', 'fd', 'fd_floor', 'fd_ratio', 'count', 'confidence', 'label_entropy', 'seconds', 'time'];
    t.deepEqual(Object.keys(record), keys);
    t.is(record.count, 20);
    t.true((record.fd as number) > 0 && (record.fd_floor as number) > 0);
    t.false(Number.isNaN(Date.parse(record.time as string)));
  }
});

test.serial(
  '--eval-every on non-MNIST images without --eval-features exits 2 before training, naming the flag',
  async (t) => {
    const args = ['train', '--preset', 'cifar-ddpm', '--out', join(dir, 'cifar'), '--eval-every', '10'];
    const result = await ddpm([...args, '--no-metrics', '--backend', 'wasm']);
    t.is(result.code, 2);
    t.regex(result.stderr, /--eval-features model\.json/);
  },
);

test.serial('--eval-count larger than half the real data exits 2 before training', async (t) => {
  const args = [
    'train',
    '--preset',
    'mnist-tiny',
    '--out',
    join(dir, 'many'),
    '--eval-every',
    '10',
    '--eval-count',
    '6000',
  ];
  const result = await ddpm([...args, '--no-metrics', '--backend', 'wasm']);
  t.is(result.code, 2);
  t.regex(result.stderr, /--count between 2 and 5000/);
});
