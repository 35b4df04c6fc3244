import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore, loadWeights, type Weights } from '@ddpm/training';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

type Backend = 'cpu' | 'wasm';

/**
 * 2k steps without a break versus k steps, a stop (SIGTERM, or kill -9 of the coordinator), a restart with --resume
 * latest, and the remaining steps: the final parameters and EMA must be bitwise identical. The dataset is cut to 3
 * images (developer flag --dataset-limit) so an epoch lasts 3 steps of batch 1 and the stop lands mid-epoch. The worker
 * process is never restarted: it reconnects to the new coordinator by itself.
 */
/** k per backend: the cpu backend needs about 3.5 s per mnist-tiny sample, so it stops after 1 step of 2. */
const K: Record<Backend, number> = { wasm: 2, cpu: 1 };

function coordinatorArgs(backend: Backend, out: string, port: number, resume: boolean): string[] {
  return [
    '--preset',
    'mnist-tiny',
    '--steps',
    String(2 * K[backend]),
    '--batch',
    '1',
    '--seed',
    '7',
    '--lr',
    '2e-3',
    '--warmup',
    '1',
    '--timesteps',
    '100',
    '--sample-every',
    '0',
    '--sample-count',
    '1',
    '--sample-steps',
    '1',
    '--backend',
    backend,
    '--dataset-limit',
    '3',
    '--checkpoint-every',
    '1',
    '--bind',
    `tcp://127.0.0.1:${port}`,
    '--min-workers',
    '1',
    '--no-metrics',
    '--heartbeat-interval',
    '0.5',
    '--heartbeat-timeout',
    '60',
    '--out',
    out,
    ...(resume ? ['--resume', 'latest'] : []),
  ];
}

function workerArgs(backend: Backend, port: number): string[] {
  return [
    '--connect',
    `tcp://127.0.0.1:${port}`,
    '--name',
    'w1',
    '--backend',
    backend,
    '--dataset-limit',
    '3',
    '--no-metrics',
    '--reconnect-timeout',
    '120',
  ];
}

const straightRuns = new Map<Backend, Promise<Weights>>();

/** The uninterrupted run of a backend, computed once for both stop variants. */
function straightRun(t: ConstructorParameters<typeof ProcessCluster>[0], backend: Backend): Promise<Weights> {
  let run = straightRuns.get(backend);
  if (run === undefined) {
    run = (async () => {
      const cluster = new ProcessCluster(t, 'ddpm-straight-');
      const port = await freePort();
      const out = join(cluster.dir, 'run');
      const coordinator = cluster.start('coordinator', COORDINATOR_BIN, coordinatorArgs(backend, out, port, false));
      const worker = cluster.start('worker', WORKER_BIN, workerArgs(backend, port));
      const [c, w] = await Promise.all([coordinator.exited, worker.exited]);
      if (c.code !== 0 || w.code !== 0)
        throw new Error(`straight ${backend} run failed (${JSON.stringify([c, w])}):\n${cluster.dumpLogs()}`);
      return loadWeights(join(out, 'weights.ddpm'));
    })();
    straightRuns.set(backend, run);
  }
  return run;
}

const resumesExactly = test.macro({
  async exec(t, backend: Backend, signal: 'SIGTERM' | 'SIGKILL') {
    const k = K[backend];
    const straight = straightRun(t, backend);
    const cluster = new ProcessCluster(t, 'ddpm-resume-');
    const port = await freePort();
    const out = join(cluster.dir, 'run');
    const metrics = join(out, 'metrics.jsonl');
    const first = cluster.start('coordinator', COORDINATOR_BIN, coordinatorArgs(backend, out, port, false));
    const worker = cluster.start('worker', WORKER_BIN, workerArgs(backend, port));
    const store = new CheckpointStore(join(out, 'checkpoints'), 3);
    await cluster.waitFor(`the checkpoint of step ${k}`, () => existsSync(store.pathFor(k)), 180_000);
    first.child.kill(signal);
    const stopped = await first.exited;
    t.log(`${backend}: coordinator stopped by ${signal}: ${JSON.stringify(stopped)}`);
    if (signal === 'SIGTERM') t.is(stopped.code, 0, 'a SIGTERM writes a checkpoint and exits cleanly');
    const latest = store.latest();
    t.deepEqual(latest?.rejected, [], 'the newest checkpoint is readable');
    const { step, dataOrder } = latest?.checkpoint.meta ?? {
      step: -1,
      dataOrder: { cursor: { epoch: -1, position: -1 } },
    };
    t.log(
      `${backend}/${signal}: resuming at step ${step}, epoch ${dataOrder.cursor.epoch}, position ${dataOrder.cursor.position} of 3`,
    );
    t.true(step >= k && step < 2 * k, `resumed at step ${step}`);
    const second = cluster.start('coordinator', COORDINATOR_BIN, coordinatorArgs(backend, out, port, true));
    const [finished, workerExit] = await Promise.all([second.exited, worker.exited]);
    t.deepEqual([finished.code, workerExit.code], [0, 0], cluster.dumpLogs());
    const resumedFrom = jsonLines(second.logPath).find(
      (r) => typeof r.msg === 'string' && r.msg.startsWith('resuming from'),
    );
    t.is(resumedFrom?.step, step, 'the second coordinator resumed from the newest checkpoint');
    const resumed = loadWeights(join(out, 'weights.ddpm'));
    const reference = await straight;
    t.is(resumed.meta.step, 2 * k);
    t.true(
      Buffer.from(resumed.params.buffer).equals(Buffer.from(reference.params.buffer)),
      'parameters are bitwise identical',
    );
    t.true(Buffer.from(resumed.ema.buffer).equals(Buffer.from(reference.ema.buffer)), 'EMA is bitwise identical');
    t.deepEqual(
      jsonLines(metrics).map((r) => r.step),
      Array.from({ length: 2 * k }, (_, i) => i + 1),
      'metrics.jsonl holds each step once after the resume',
    );
    t.is(
      jsonLines(worker.logPath).filter((r) => r.msg === 'joined the run').length,
      2,
      'the same worker process joined both coordinators',
    );
  },
  title: (_, backend: Backend, signal: string) =>
    `${2 * K[backend]} steps straight equal ${K[backend]} step(s), ${signal} of the coordinator, --resume latest and ${K[backend]} more, bit for bit, mid-epoch (${backend} backend)`,
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(resumesExactly, backend, 'SIGTERM');
  test(resumesExactly, backend, 'SIGKILL');
}
