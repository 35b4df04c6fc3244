import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadCheckpoint } from '@ddpm/training';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

async function ddpm(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], {
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, DDPM_LOG_LEVEL: 'warn' },
  });
  return stdout;
}

test('ddpm local writes checkpoints, --resume latest extends the run, and ddpm sample draws from a checkpoint', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-local-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'run');
  const common = [
    '--preset',
    'mnist-tiny',
    '--workers',
    '1',
    '--batch',
    '2',
    '--timesteps',
    '100',
    '--sample-every',
    '0',
    '--sample-count',
    '1',
    '--sample-steps',
    '1',
    '--backend',
    'wasm',
    '--dataset-limit',
    '5',
    '--checkpoint-every',
    '1',
    '--keep-checkpoints',
    '2',
    '--out',
    out,
  ];
  t.regex(await ddpm('local', ...common, '--steps', '2'), /done: 2 steps/);
  t.true(existsSync(join(out, 'checkpoints', 'step-000000002.ckpt')));
  t.regex(await ddpm('local', ...common, '--steps', '4', '--resume', 'latest'), /done: 4 steps/);
  const checkpoint = join(out, 'checkpoints', 'step-000000004.ckpt');
  const { meta } = loadCheckpoint(checkpoint);
  t.deepEqual(
    { step: meta.step, epoch: meta.dataOrder.cursor.epoch, position: meta.dataOrder.cursor.position },
    { step: 4, epoch: 1, position: 2 },
    '5 images in batches of 2: epoch 0 is 2+2+1, step 4 takes 2 of epoch 1',
  );
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { step: number }).step);
  t.deepEqual(steps, [1, 2, 3, 4]);
  const grid = join(dir, 'grid.png');
  t.regex(
    await ddpm('sample', '--weights', checkpoint, '--count', '2', '--steps', '2', '--backend', 'cpu', '--out', grid),
    /wrote 2 samples/,
  );
  t.true(existsSync(grid));
});
