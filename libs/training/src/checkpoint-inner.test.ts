import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataOrder } from './data-order.ts';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.ts';
import { DEFAULT_OPTIMIZER } from './optimizer.ts';
import { OuterOptimizer } from './outer-optimizer.ts';
import type { RunConfig } from './run-config.ts';

const lowCommunication = { syncEvery: 4, outerLr: 0.7, outerMomentum: 0.9 };
const run: RunConfig = {
  ...{ preset: 'mnist-tiny', steps: 10, batch: 4, seed: 3, out: 'x', optimizer: DEFAULT_OPTIMIZER },
  ...{ schedule: { kind: 'linear', timesteps: 100 }, sampleEvery: 0, sampleCount: 1, sampleSteps: 1 },
  lowCommunication,
};

/** A --sync-every checkpoint: an outer optimizer after two steps and the inner states of `shards` shards. */
function checkpoint(shards: number): Checkpoint {
  const outer = new OuterOptimizer(
    Float32Array.from({ length: 9 }, (_, i) => i / 3),
    DEFAULT_OPTIMIZER,
    lowCommunication,
  );
  for (let s = 0; s < 2; s++)
    outer.apply(
      Float32Array.from({ length: 9 }, (_, i) => Math.sin(i + s) / 10),
      s,
    );
  const inner = Array.from({ length: shards }, (_, k) => ({
    m: Float32Array.from({ length: 9 }, (_, i) => Math.cos(i * (k + 1))),
    v: Float32Array.from({ length: 9 }, (_, i) => (i + k) / 1000),
    count: 8 * (k + 1),
  }));
  const meta = {
    ...({ kind: 'checkpoint', format: 1, protocolVersion: 1, runId: 'r', step: 2, rng: {}, run } as const),
    ...{
      dataOrder: DataOrder.start(20, 3).state(),
      model: {} as Checkpoint['meta']['model'],
    },
    ...{ datasetFingerprint: 'f', adamCount: 0, skippedSteps: 0, lastLoss: 0.5, writtenAt: 'now' },
  };
  return { meta, optimizer: outer.state(), inner };
}

test('a --sync-every checkpoint keeps the outer momentum and every shard’s inner Adam state, bit for bit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-ckpt-inner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const saved = checkpoint(3);
  const path = join(dir, 'step-2.ckpt');
  saveCheckpoint(path, saved);
  const loaded = loadCheckpoint(path);
  t.deepEqual(loaded.optimizer, saved.optimizer, 'params, EMA, outer momentum (adam_m), empty adam_v, outer count');
  t.deepEqual(loaded.inner, saved.inner, 'inner m, v and count of each shard, by shard index');
  t.deepEqual(loaded.meta.innerCounts, [8, 16, 24]);
  const resumed = new OuterOptimizer(new Float32Array(9), DEFAULT_OPTIMIZER, lowCommunication, loaded.optimizer);
  t.deepEqual(resumed.state(), saved.optimizer);
});

test('a --sync-every checkpoint without inner states loads without them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-ckpt-inner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { meta, optimizer } = checkpoint(0);
  saveCheckpoint(join(dir, 'a.ckpt'), { meta, optimizer });
  const loaded = loadCheckpoint(join(dir, 'a.ckpt'));
  t.is(loaded.inner, undefined);
  t.deepEqual(loaded.optimizer, optimizer);
});
