import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CHECKPOINT_FORMAT, loadCheckpoint } from '@ddpm/training';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

/**
 * A checkpoint of format 1 written on 2026-12-04 by:
 *   ddpm train --preset mnist-tiny --steps 2 --batch 2 --timesteps 100 --backend wasm --sample-every 0
 *     --sample-count 1 --sample-steps 1 --dataset-limit 30 --checkpoint-every 1 --no-metrics --out gold
 * (gold/checkpoints/step-000000002.ckpt). Later builds must keep reading it and resume from it. If the format
 * changes on purpose, keep this file, add the new version's fixture, and keep a reader for the old one.
 */
const FIXTURE = fileURLToPath(new URL('fixtures/mnist-tiny-step-2.ckpt', import.meta.url));
const RUN_ID = '2b0cf4ce-276a-44a3-89ac-77e50473449e';

test('the golden checkpoint of format 1 still loads, with its step, run, model and optimizer state', (t) => {
  const { meta, optimizer } = loadCheckpoint(FIXTURE);
  t.is(meta.format, 1);
  t.is(CHECKPOINT_FORMAT, 1, 'a new format must keep reading format 1 (see the comment on FIXTURE)');
  t.is(meta.runId, RUN_ID);
  t.is(meta.step, 2);
  t.is(meta.adamCount, 2);
  t.is(optimizer.adam.count, 2);
  t.is(meta.run.preset, 'mnist-tiny');
  for (const section of [optimizer.params, optimizer.ema, optimizer.adam.m, optimizer.adam.v]) {
    t.is(section.length, 44_969);
    t.true(section.every(Number.isFinite));
  }
  t.true(
    optimizer.adam.v.every((v) => v >= 0),
    'the second moment is non-negative: sections are not swapped',
  );
});

test('ddpm train resumes from the golden checkpoint and its next step sees the same parameters', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-golden-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'run');
  await run(
    process.execPath,
    [
      ...[BIN, 'train', '--preset', 'mnist-tiny', '--steps', '3', '--batch', '2', '--timesteps', '100'],
      ...['--backend', 'wasm', '--sample-every', '0', '--sample-count', '1', '--sample-steps', '1'],
      ...['--dataset-limit', '30', '--checkpoint-every', '0', '--no-metrics', '--out', out, '--resume', FIXTURE],
    ],
    { env: { ...process.env, DDPM_LOG_LEVEL: 'warn' } },
  );
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  t.is(lines.length, 1, 'only step 3 ran');
  const step = JSON.parse(lines[0]) as { step: number; loss: number; grad_norm: number; epoch: number };
  t.is(step.step, 3);
  t.is(step.epoch, 0);
  // Step 3's loss and gradient norm depend on the parameters and data order read from the checkpoint (measured when
  // the fixture was made: 0.9726402163505554 and 1.1413707844804168).
  t.true(Math.abs(step.loss - 0.9726402163505554) <= 1e-5, `loss ${step.loss}`);
  t.true(Math.abs(step.grad_norm - 1.1413707844804168) <= 1e-5, `grad_norm ${step.grad_norm}`);
});
