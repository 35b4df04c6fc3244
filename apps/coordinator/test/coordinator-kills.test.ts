import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore, loadCheckpoint, loadWeights } from '@ddpm/training';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

const KILLS = 20;

/** Unfinished checkpoint temp files in `dir` (what a kill in the middle of a write leaves). */
function tempFiles(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.tmp')).length : 0;
}

/** A small deterministic generator for the kill moments (the test must be reproducible). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test(`${KILLS} kill -9 of the coordinator, at random moments and in the middle of checkpoint writes, leave 0 unreadable latest checkpoints; the worker reconnects every time and training continues`, async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-kills-');
  const port = await freePort();
  const out = join(cluster.dir, 'run');
  const endpoint = `tcp://127.0.0.1:${port}`;
  const store = new CheckpointStore(join(out, 'checkpoints'), 2);
  const args = (steps: number): string[] => [
    '--preset',
    'mnist-tiny',
    '--steps',
    String(steps),
    '--batch',
    '2',
    '--seed',
    '9',
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
    '7',
    '--checkpoint-every',
    '1',
    '--keep-checkpoints',
    '2',
    '--bind',
    endpoint,
    '--min-workers',
    '1',
    '--no-metrics',
    '--heartbeat-interval',
    '0.25',
    '--heartbeat-timeout',
    '5',
    '--resume',
    'latest',
    '--out',
    out,
  ];
  // The pause makes a checkpoint write take a large share of each step, so many kills land inside one.
  const env = { DDPM_FAULT_CHECKPOINT_PAUSE_MS: '150' };
  const worker = cluster.start('worker', WORKER_BIN, [
    '--connect',
    endpoint,
    '--name',
    'w1',
    '--backend',
    'wasm',
    '--dataset-limit',
    '7',
    '--no-metrics',
    '--reconnect-timeout',
    '120',
  ]);
  const random = lcg(2024);
  let midWrite = 0;
  const unreadable: string[] = [];
  let previousStep = 0;
  const steps: number[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    const coordinator = cluster.start(`coordinator-${kill}`, COORDINATOR_BIN, args(100000), env);
    await cluster.waitFor(
      `coordinator ${kill} listening`,
      () => jsonLines(coordinator.logPath).some((r) => r.msg === 'coordinator listening'),
      60_000,
    );
    if (kill % 2 === 0) {
      // Every other kill aims at a checkpoint write: as soon as a temp file appears (the write pauses 150 ms in it).
      await cluster.waitFor(`a checkpoint write of coordinator ${kill}`, () => tempFiles(store.dir) > 0, 60_000);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 200 + 1000 * random()));
    }
    coordinator.child.kill('SIGKILL');
    await coordinator.exited;
    if (tempFiles(store.dir) > 0) midWrite += 1;
    const newest = store.list()[0];
    if (newest === undefined) continue;
    let step: number;
    try {
      step = loadCheckpoint(newest).meta.step;
    } catch (error) {
      unreadable.push(`kill ${kill}: ${(error as Error).message}`);
      continue;
    }
    t.true(step >= previousStep, `kill ${kill}: the newest checkpoint went back from step ${previousStep} to ${step}`);
    previousStep = step;
    steps.push(step);
  }
  t.log(
    `newest checkpoint after each kill: steps ${steps.join(', ')}; ${midWrite} of ${KILLS} kills landed in the middle of a checkpoint write`,
  );
  t.deepEqual(unreadable, [], 'the newest checkpoint file was readable after every kill');
  t.true(midWrite >= KILLS / 2, `${midWrite} kills interrupted a checkpoint write`);
  // How far training gets between kills depends on the machine's load (restarts take seconds); that it continues is
  // checked below: the last coordinator resumes from the newest checkpoint and the same worker finishes the run.
  t.true(previousStep >= 1, `training progressed across the kills (to step ${previousStep})`);

  const last = cluster.start('coordinator-final', COORDINATOR_BIN, args(previousStep + 3), env);
  const [final, workerExit] = await Promise.all([last.exited, worker.exited]);
  t.deepEqual([final.code, workerExit.code], [0, 0], cluster.dumpLogs());
  t.is(loadWeights(join(out, 'weights.ddpm')).meta.step, previousStep + 3);
  t.is(
    jsonLines(worker.logPath).filter((r) => r.msg === 'joined the run').length >= KILLS / 2,
    true,
    'one worker process rejoined coordinator after coordinator',
  );
});
