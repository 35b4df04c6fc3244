import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadWeights } from '@ddpm/training';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-local-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function ddpm(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], {
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, DDPM_LOG_LEVEL: 'warn' },
  });
  return stdout;
}

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / scale;
}

const common = [
  '--preset',
  'mnist-tiny',
  '--steps',
  '3',
  '--seed',
  '11',
  '--lr',
  '1e-3',
  '--warmup',
  '2',
  '--sample-every',
  '0',
  '--sample-count',
  '1',
  '--sample-steps',
  '2',
];

test('two worker processes with local batch b end with the parameters of one process with batch 2b (wasm backend)', async (t) => {
  const dir = tempDir(t);
  // A slow shared machine must not turn this into a failure-handling test: no worker may be dropped mid-run.
  const patient = ['--heartbeat-timeout', '600', '--step-timeout', '0'];
  await ddpm(
    'local',
    ...common,
    ...patient,
    '--workers',
    '2',
    '--batch',
    '3',
    '--backend',
    'wasm',
    '--out',
    join(dir, 'local'),
  );
  await ddpm('train', ...common, '--batch', '6', '--backend', 'wasm', '--out', join(dir, 'single'));
  const distributed = loadWeights(join(dir, 'local', 'weights.ddpm'));
  const single = loadWeights(join(dir, 'single', 'weights.ddpm'));
  t.is(distributed.meta.step, 3);
  t.is(distributed.params.length, single.params.length);
  const paramsDiff = maxRelativeDifference(single.params, distributed.params);
  const emaDiff = maxRelativeDifference(single.ema, distributed.ema);
  t.log(`max relative difference: params ${paramsDiff.toExponential(2)}, ema ${emaDiff.toExponential(2)}`);
  t.true(paramsDiff <= 1e-5, `params differ by ${paramsDiff}`);
  t.true(emaDiff <= 1e-5, `ema differs by ${emaDiff}`);
  const losses = (path: string): number[] =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { loss: number }).loss);
  const a = losses(join(dir, 'local', 'metrics.jsonl'));
  const b = losses(join(dir, 'single', 'metrics.jsonl'));
  t.is(a.length, 3);
  a.forEach((loss, i) =>
    t.true(Math.abs(loss - b[i]) <= 1e-5 * Math.abs(b[i]), `step ${i + 1}: loss ${loss} vs ${b[i]}`),
  );
});

const trainsAcrossProcesses = test.macro({
  title: (_ = '', backend: string) =>
    `ddpm local trains across worker processes over TCP and lowers the loss (${backend} backend)`,
  async exec(t, backend: string) {
    const dir = tempDir(t);
    const out = join(dir, 'run');
    const stdout = await ddpm(
      'local',
      '--preset',
      'mnist-tiny',
      '--workers',
      '2',
      '--batch',
      '8',
      '--steps',
      '30',
      '--lr',
      '2e-3',
      '--warmup',
      '5',
      '--sample-every',
      '15',
      '--sample-count',
      '4',
      '--sample-steps',
      '5',
      '--backend',
      backend,
      '--out',
      out,
    );
    t.regex(stdout, /done: 30 steps/);
    const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { step: number; loss: number; workers: number });
    t.is(records.length, 30);
    t.true(records.every((r) => r.workers === 2));
    const mean = (xs: { loss: number }[]): number => xs.reduce((s, r) => s + r.loss, 0) / xs.length;
    const first = mean(records.slice(0, 5));
    const last = mean(records.slice(-5));
    t.log(`loss: first 5 steps ${first.toFixed(3)}, last 5 steps ${last.toFixed(3)}`);
    t.true(last < 0.7 * first, `loss went from ${first} to ${last}`);
    const grids = readFileSync(join(out, 'summary.json'), 'utf8');
    t.regex(grids, /step-000015\.png/);
    t.regex(grids, /step-000030\.png/);
  },
});

test(trainsAcrossProcesses, 'wasm');
// On lavapipe (Mesa's software Vulkan, installed by .ci/run) where there is no GPU: slow, but the same code path.
test(trainsAcrossProcesses, 'webgpu');
