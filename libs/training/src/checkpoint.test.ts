import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePreset } from '@ddpm/unet';
import { DataOrder } from './data-order.ts';
import { CHECKPOINT_FORMAT, loadCheckpoint, type Checkpoint } from './checkpoint.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { Optimizer, DEFAULT_OPTIMIZER } from './optimizer.ts';
import { loadWeights, saveWeights } from './weights-file.ts';
import type { RunConfig } from './run-config.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const run: RunConfig = {
  preset: 'mnist-tiny',
  steps: 10,
  batch: 4,
  seed: 3,
  out: 'x',
  optimizer: DEFAULT_OPTIMIZER,
  schedule: { kind: 'linear', timesteps: 100 },
  sampleEvery: 0,
  sampleCount: 1,
  sampleSteps: 1,
};

/** A checkpoint after `step` real Adam updates on a small buffer (so the moments are not trivially zero). */
function checkpointAt(step: number): Checkpoint {
  const optimizer = new Optimizer(
    Float32Array.from({ length: 50 }, (_, i) => Math.cos(i)),
    DEFAULT_OPTIMIZER,
  );
  for (let s = 0; s < step; s++)
    optimizer.apply(
      Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * (s + 1))),
      s,
    );
  const order = DataOrder.start(10, 3);
  order.next(7);
  order.giveBack(0, [4]);
  return {
    meta: {
      kind: 'checkpoint',
      format: CHECKPOINT_FORMAT,
      protocolVersion: 1,
      runId: 'r',
      step,
      dataOrder: order.state(),
      rng: {},
      run,
      model: resolvePreset('mnist-tiny'),
      datasetFingerprint: 'fp',
      adamCount: 0,
      skippedSteps: 0,
      lastLoss: 0.5,
      writtenAt: new Date(0).toISOString(),
    },
    optimizer: optimizer.state(),
  };
}

test('a checkpoint round-trips parameters, EMA, both Adam moments, the update count and the data order bit for bit', (t) => {
  const dir = tempDir(t);
  const original = checkpointAt(3);
  const store = new CheckpointStore(dir, 2);
  const { path } = store.write(original);
  const loaded = loadCheckpoint(path);
  t.is(loaded.optimizer.adam.count, 3, 'the Adam count is taken from the optimizer, not from the meta field');
  t.deepEqual(loaded.optimizer, original.optimizer);
  t.deepEqual(loaded.meta.dataOrder, original.meta.dataOrder);
  t.is(loaded.meta.step, 3);
  const weights = loadWeights(path);
  t.deepEqual(weights.params, original.optimizer.params, 'ddpm sample can read a checkpoint as weights');
  t.is(weights.meta.config.ch, resolvePreset('mnist-tiny').ch);
});

test('a restored optimizer continues exactly like the one that never stopped', (t) => {
  const dir = tempDir(t);
  const saved = checkpointAt(2);
  const { path } = new CheckpointStore(dir, 1).write(saved);
  const resumed = new Optimizer(new Float32Array(50), DEFAULT_OPTIMIZER, loadCheckpoint(path).optimizer);
  const straight = new Optimizer(
    Float32Array.from({ length: 50 }, (_, i) => Math.cos(i)),
    DEFAULT_OPTIMIZER,
  );
  for (let s = 0; s < 4; s++) {
    const gradient = (): Float32Array => Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * (s + 1)));
    straight.apply(gradient(), s);
    if (s >= 2) resumed.apply(gradient(), s);
  }
  t.deepEqual(resumed.state(), straight.state());
});

test('the store keeps the newest K and latest() skips a truncated newest file, reporting it', (t) => {
  const dir = tempDir(t);
  const store = new CheckpointStore(dir, 3);
  for (const step of [1, 2, 3, 4, 5]) store.write(checkpointAt(step));
  t.deepEqual(readdirSync(dir).sort(), ['step-000000003.ckpt', 'step-000000004.ckpt', 'step-000000005.ckpt']);
  const newest = store.pathFor(5);
  writeFileSync(newest, readFileSync(newest).subarray(0, 1000));
  const found = store.latest();
  t.is(found?.path, store.pathFor(4));
  t.is(found?.rejected.length, 1);
  t.regex(found?.rejected[0].reason ?? '', /step-000000005\.ckpt is not a valid ddpm state file \(payload holds/);
});

test('latest() is undefined for an empty directory and a clear error when every file is damaged', (t) => {
  const dir = tempDir(t);
  const store = new CheckpointStore(join(dir, 'none'), 2);
  t.is(store.latest(), undefined);
  const damaged = new CheckpointStore(dir, 2);
  damaged.write(checkpointAt(1));
  writeFileSync(damaged.pathFor(1), 'garbage');
  t.throws(() => damaged.latest(), { message: /No readable checkpoint in .*bad magic.*--resume PATH/ });
});

test('a temp file left by a killed writer is not a checkpoint and is cleaned up', (t) => {
  const dir = tempDir(t);
  const store = new CheckpointStore(dir, 2);
  store.write(checkpointAt(1));
  const temp = join(dir, '.step-000000002.ckpt.4242.tmp');
  writeFileSync(temp, 'half a file');
  t.is(store.latest()?.path, store.pathFor(1));
  t.is(store.removeStaleTemps(), 1);
  t.false(existsSync(temp));
});

test('final weights are refused as a checkpoint with a hint', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'weights.ddpm');
  const { optimizer } = checkpointAt(1);
  saveWeights(path, {
    meta: {
      kind: 'weights',
      preset: 'mnist-tiny',
      config: resolvePreset('mnist-tiny'),
      schedule: run.schedule,
      step: 1,
    },
    params: optimizer.params,
    ema: optimizer.ema,
  });
  t.throws(() => loadCheckpoint(path), { message: /not a checkpoint \(kind 'weights'\).*--resume latest/ });
  t.throws(() => loadCheckpoint(join(dir, 'missing.ckpt')), { message: /Cannot read/ });
});
