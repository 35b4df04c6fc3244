import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore, loadWeights, type Weights } from '@ddpm/training';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

type Backend = 'cpu' | 'wasm';
type Topology = 'star' | 'sharded';
/** The star runs one worker; the sharded topology two, so that buckets have owners on both and travel between them. */
const WORKERS: Record<Topology, string[]> = { star: ['w1'], sharded: ['w1', 'w2'] };
/** Images in the data set: small enough that the stop lands mid-epoch with every worker taking 1 per step. */
const DATASET: Record<Topology, number> = { star: 3, sharded: 5 };

/**
 * 2k steps without a break versus k steps, a stop (SIGTERM, or kill -9 of the coordinator), a restart with --resume
 * latest, and the remaining steps: the final parameters and EMA must be bitwise identical. The dataset is cut to 3
 * images (5 for 2 workers; developer flag --dataset-limit) so that the stop lands mid-epoch. The worker
 * process is never restarted: it reconnects to the new coordinator by itself.
 */
/** k per backend: the cpu backend needs about 3.5 s per mnist-tiny sample, so it stops after 1 step of 2. */
const K: Record<Backend, number> = { wasm: 2, cpu: 1 };

function coordinatorArgs(backend: Backend, topology: Topology, out: string, port: number, resume: boolean): string[] {
  return [
    ...['--topology', topology, '--min-workers', String(WORKERS[topology].length)],
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
    String(DATASET[topology]),
    '--checkpoint-every',
    '1',
    '--bind',
    `tcp://127.0.0.1:${port}`,
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

function workerArgs(backend: Backend, topology: Topology, port: number, name: string): string[] {
  return [
    ...(topology === 'sharded' ? ['--peer-endpoint', 'tcp://127.0.0.1:0'] : []),
    '--connect',
    `tcp://127.0.0.1:${port}`,
    '--name',
    name,
    '--backend',
    backend,
    '--dataset-limit',
    String(DATASET[topology]),
    '--no-metrics',
    '--reconnect-timeout',
    '120',
  ];
}

const straightRuns = new Map<string, Promise<Weights>>();

/** The uninterrupted run of a backend and topology, computed once for both stop variants. */
function straightRun(
  t: ConstructorParameters<typeof ProcessCluster>[0],
  backend: Backend,
  topology: Topology,
): Promise<Weights> {
  let run = straightRuns.get(`${backend}/${topology}`);
  if (run === undefined) {
    run = (async () => {
      const cluster = new ProcessCluster(t, 'ddpm-straight-');
      const port = await freePort();
      const out = join(cluster.dir, 'run');
      const args = coordinatorArgs(backend, topology, out, port, false);
      const coordinator = cluster.start('coordinator', COORDINATOR_BIN, args);
      const workers = WORKERS[topology].map((name) =>
        cluster.start(name, WORKER_BIN, workerArgs(backend, topology, port, name)),
      );
      const exits = await Promise.all([coordinator, ...workers].map((p) => p.exited));
      if (exits.some((e) => e.code !== 0))
        throw new Error(`straight ${backend} run failed (${JSON.stringify(exits)}):\n${cluster.dumpLogs()}`);
      return loadWeights(join(out, 'weights.ddpm'));
    })();
    straightRuns.set(`${backend}/${topology}`, run);
  }
  return run;
}

const resumesExactly = test.macro({
  async exec(t, backend: Backend, signal: 'SIGTERM' | 'SIGKILL', topology: Topology = 'star') {
    const k = K[backend];
    const straight = straightRun(t, backend, topology);
    const cluster = new ProcessCluster(t, 'ddpm-resume-');
    const port = await freePort();
    const out = join(cluster.dir, 'run');
    const metrics = join(out, 'metrics.jsonl');
    const first = cluster.start('coordinator', COORDINATOR_BIN, coordinatorArgs(backend, topology, out, port, false));
    const workers = WORKERS[topology].map((name) =>
      cluster.start(name, WORKER_BIN, workerArgs(backend, topology, port, name)),
    );
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
      `${backend}/${signal}: resuming at step ${step}, epoch ${dataOrder.cursor.epoch}, position ${dataOrder.cursor.position} of ${DATASET[topology]}`,
    );
    t.true(step >= k && step < 2 * k, `resumed at step ${step}`);
    const second = cluster.start('coordinator', COORDINATOR_BIN, coordinatorArgs(backend, topology, out, port, true));
    const exits = await Promise.all([second, ...workers].map((p) => p.exited));
    t.deepEqual(
      exits.map((e) => e.code),
      exits.map(() => 0),
      cluster.dumpLogs(),
    );
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
    // At least twice: a kill -9 between an Update and its checkpoint leaves a replica a step ahead of the resumed
    // coordinator, which then resynchronises it with more Welcomes (CI saw 4 joins of one sharded worker: not yet
    // explained, the bits were exact).
    for (const worker of workers) {
      const joins = jsonLines(worker.logPath).filter((r) => r.msg === 'joined the run').length;
      t.true(joins >= 2, `the same worker process ${worker.name} joined both coordinators (joins: ${joins})`);
    }
  },
  title: (_, backend: Backend, signal: string, topology: Topology = 'star') =>
    `${2 * K[backend]} steps straight equal ${K[backend]} step(s), ${signal} of the coordinator, --resume latest and ${K[backend]} more, bit for bit, mid-epoch (${backend} backend, ${topology} topology)`,
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(resumesExactly, backend, 'SIGTERM');
  test(resumesExactly, backend, 'SIGKILL');
}
test(resumesExactly, 'wasm', 'SIGKILL', 'sharded');
