import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadWeights } from '@ddpm/training';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

/** Trains mnist-tiny with `workers` workers in `topology` and returns the final weights file's bytes. */
async function weightsOf(dir: string, topology: string, workers: number, wire = 'float32'): Promise<Float32Array> {
  const out = join(dir, `${topology}-${workers}-${wire}`);
  await run(
    process.execPath,
    [
      ...[BIN, 'local', '--workers', String(workers), '--preset', 'mnist-tiny', '--steps', '6', '--batch', '2'],
      ...['--timesteps', '100', '--sample-every', '0', '--sample-steps', '1', '--backend', 'wasm'],
      ...['--topology', topology, '--wire-dtype', wire, '--out', out, '--dataset-limit', '40'],
    ],
    { env: { ...process.env, DDPM_LOG_LEVEL: 'warn' }, maxBuffer: 16 * 1024 * 1024 },
  );
  return loadWeights(join(out, 'weights.ddpm')).params;
}

// The owner of a bucket sums the parts in float64 and rounds once, as the coordinator does in the star, so with float32
// on the wire the two topologies train to the same bits (bfloat16 rounds the reduced bucket once more: not bitwise).
const sameBits = test.macro(async (t, workers: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-topology-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [star, sharded] = await Promise.all([weightsOf(dir, 'star', workers), weightsOf(dir, 'sharded', workers)]);
  t.true(Buffer.from(star.buffer).equals(Buffer.from(sharded.buffer)), 'sharded and star weights are bitwise equal');
});

test.serial('ddpm local --topology sharded trains to the star bits with 2 workers', sameBits, 2);
test.serial('ddpm local --topology sharded trains to the star bits with 3 workers', sameBits, 3);

test.serial('sharded with bfloat16 stays close to the star with bfloat16', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-topology-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [star, sharded] = await Promise.all([
    weightsOf(dir, 'star', 2, 'bfloat16'),
    weightsOf(dir, 'sharded', 2, 'bfloat16'),
  ]);
  const [a, b] = [star, sharded];
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  t.true(diff / scale < 1e-2, `relative difference ${diff / scale}`);
});
