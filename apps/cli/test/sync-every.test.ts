import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

// Two worker processes, 20 images, batch 2: each outer step of --sync-every 3 takes 12 images, so the stop at step 2
// lands mid-epoch. The checkpoint of step 2 must carry both shards' inner Adam states: the resumed run starts new worker
// processes, which have nothing else to start from.
const common = [
  ...['local', '--preset', 'mnist-tiny', '--workers', '2', '--batch', '2', '--timesteps', '100'],
  ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm'],
  ...['--dataset-limit', '20', '--checkpoint-every', '2'],
];

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-sync-every-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--sync-every 3: 4 outer steps straight equal 2, a new run of processes with --resume latest and 2 more, bit for bit', async (t) => {
  const dir = tempDir(t);
  const [straight, resumed] = [join(dir, 'straight'), join(dir, 'resumed')];
  t.regex(await ddpm(...common, '--sync-every', '3', '--steps', '4', '--out', straight), /done: 4 steps/);
  t.regex(await ddpm(...common, '--sync-every', '3', '--steps', '2', '--out', resumed), /done: 2 steps/);
  const saved = loadCheckpoint(join(resumed, 'checkpoints', 'step-000000002.ckpt'));
  t.deepEqual(saved.meta.innerCounts, [6, 6], 'two shards, each after 2 outer steps of 3 inner steps');
  t.is(saved.optimizer.adam.count, 2, 'two outer steps');
  const output = await ddpm(...common, '--sync-every', '3', '--steps', '4', '--resume', 'latest', '--out', resumed);
  t.regex(output, /done: 4 steps/);
  t.regex(output, /traffic: the coordinator sent \d+ bytes and received \d+ bytes/);
  t.true(
    readFileSync(join(resumed, 'weights.ddpm')).equals(readFileSync(join(straight, 'weights.ddpm'))),
    'final parameters and EMA are bitwise identical',
  );
});

test('--sync-every 1 is synchronous training, bit for bit the same as without the flag', async (t) => {
  const dir = tempDir(t);
  const [plain, explicit] = [join(dir, 'plain'), join(dir, 'explicit')];
  await ddpm(...common, '--steps', '2', '--out', plain);
  await ddpm(...common, '--steps', '2', '--sync-every', '1', '--out', explicit);
  t.true(readFileSync(join(plain, 'weights.ddpm')).equals(readFileSync(join(explicit, 'weights.ddpm'))));
  const meta = loadCheckpoint(join(explicit, 'checkpoints', 'step-000000002.ckpt')).meta;
  t.is(meta.run.lowCommunication, undefined, 'the run config is that of synchronous training');
  t.is(meta.innerCounts, undefined);
});
