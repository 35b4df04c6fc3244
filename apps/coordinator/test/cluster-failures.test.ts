import test from 'ava';
import { join } from 'node:path';
import { CheckpointStore, loadWeights } from '@ddpm/training';
import { checksumOf } from './foreign-peer.ts';
import { workerLedger, type WorkerLedger } from './worker-ledger.ts';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  joinsBesidesOwnerLoss,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';

const DATASET = 10;
const TIMEOUT_S = 3;

function messages(p: ClusterProcess): string[] {
  return jsonLines(p.logPath).map((r) => String(r.msg ?? ''));
}

function has(p: ClusterProcess, pattern: RegExp): boolean {
  return messages(p).some((m) => pattern.test(m));
}

/** What the workers received and hold, from their own debug logs. */
function ledger(workers: readonly ClusterProcess[]): WorkerLedger {
  return workerLedger(workers.map((w) => ({ worker: w.name, records: jsonLines(w.logPath) })));
}

const failuresAndMembership = test.macro({
  title: (_, topology: string) =>
    `kill -9, a stall (SIGSTOP) with a stale rejoin, a join and a clean leave: survivors go on once the dead worker is dropped; from the workers' own records every epoch consumes each sample exactly once and the replicas hold the same parameters (${topology})`,
  exec: async (t, topology: 'star' | 'sharded') => {
    const cluster = new ProcessCluster(t, 'ddpm-failures-');
    const port = await freePort();
    const out = join(cluster.dir, 'run');
    const metrics = join(out, 'metrics.jsonl');
    const endpoint = `tcp://127.0.0.1:${port}`;
    const coordinator = cluster.start(
      'coordinator',
      COORDINATOR_BIN,
      [
        '--preset',
        'mnist-tiny',
        '--steps',
        '100000',
        '--batch',
        '2',
        '--seed',
        '3',
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
        String(DATASET),
        '--checkpoint-every',
        '0',
        '--checkpoint-seconds',
        '0',
        '--bind',
        endpoint,
        '--min-workers',
        '1',
        '--no-metrics',
        '--heartbeat-interval',
        '0.25',
        '--heartbeat-timeout',
        String(TIMEOUT_S),
        '--out',
        out,
        '--topology',
        topology,
      ],
      { DDPM_LOG_LEVEL: 'debug' },
    );
    const worker = (name: string): ClusterProcess =>
      cluster.start(
        name,
        WORKER_BIN,
        [
          '--connect',
          endpoint,
          '--name',
          name,
          '--backend',
          'wasm',
          '--dataset-limit',
          String(DATASET),
          '--no-metrics',
          '--reconnect-timeout',
          '60',
          '--peer-endpoint',
          'tcp://127.0.0.1:0',
        ],
        { DDPM_LOG_LEVEL: 'debug' },
      );
    const steps = (): number => jsonLines(metrics).length;
    const [w1, w2, w3] = ['w1', 'w2', 'w3'].map(worker);
    await cluster.waitFor('three workers in a step', () => jsonLines(metrics).some((r) => r.workers === 3), 90_000);

    // 1. kill -9: the coordinator drops w3 after the heartbeat timeout and the step in progress completes without it.
    const killedAt = Date.now();
    const stepsAtKill = steps();
    w3.child.kill('SIGKILL');
    // Events, not wall-clock: w3 is dropped, then a step completes with the two survivors. The deadlines only guard
    // against a hang (10 timeouts), since a loaded 2-core machine can stretch any single interval.
    await cluster.waitFor('w3 dropped', () => has(coordinator, /worker w3 silent/), 10 * TIMEOUT_S * 1000);
    await cluster.waitFor(
      'a step by the two survivors',
      () =>
        jsonLines(metrics)
          .slice(stepsAtKill)
          .some((r) => r.workers === 2),
      10 * TIMEOUT_S * 1000,
    );
    t.log(
      `kill -9 of w3: the survivors completed a step ${Date.now() - killedAt} ms later (heartbeat timeout ${TIMEOUT_S} s)`,
    );
    const after = jsonLines(metrics).slice(stepsAtKill);
    const firstWithout = after.findIndex((r) => r.workers === 2);
    t.true(
      after.slice(firstWithout).every((r) => r.workers === 2),
      'once dropped, w3 is in no later step (it is dead)',
    );

    // 2. A stall longer than the timeout (SIGSTOP, as a cut-off network would look): dropped, then told it is stale, rejoins.
    w2.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await cluster.waitFor('w2 dropped', () => has(coordinator, /worker w2 silent/), 4 * TIMEOUT_S * 1000);
    // Resumed before its own patience (2 timeouts) runs out: it comes back on its old connection and is told it is stale.
    w2.child.kill('SIGCONT');
    t.log(`w2 stopped for ${Date.now() - stoppedAt} ms`);
    await cluster.waitFor(
      'w2 rejoined',
      () => has(w2, /does not know this replica/) && messages(w2).filter((m) => m === 'joined the run').length === 2,
      30_000,
    );

    // 3. A join and a clean leave.
    const w4 = worker('w4');
    await cluster.waitFor('w4 joined', () => has(w4, /^joined the run$/), 60_000);
    const stepsWithW4 = steps();
    await cluster.waitFor('steps with w4', () => steps() >= stepsWithW4 + 3, 30_000);
    w1.child.kill('SIGTERM');
    await cluster.waitFor('w1 left', () => has(coordinator, /worker w1 left \(SIGTERM\)/), 30_000);
    t.deepEqual(await w1.exited, { code: 0, signal: null }, 'a worker leaves cleanly on SIGTERM');
    const stepsAfterLeave = steps();
    await cluster.waitFor('steps after the leave', () => steps() >= stepsAfterLeave + 3, 30_000);

    coordinator.child.kill('SIGTERM');
    t.deepEqual(await coordinator.exited, { code: 0, signal: null });
    w2.child.kill('SIGTERM');
    w4.child.kill('SIGTERM');
    t.deepEqual(
      await Promise.all([w2.exited, w4.exited]),
      [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ],
      cluster.dumpLogs(),
    );

    t.is(joinsBesidesOwnerLoss(w4, topology), 1, 'no worker restarted: w4 joined once');
    const records = jsonLines(metrics);
    t.deepEqual(
      records.map((r) => r.step),
      Array.from({ length: records.length }, (_, i) => i + 1),
      'steps 1..N, each once',
    );
    t.true(records.every((r) => r.skipped === false));
    // Checked from what the workers received and hold, not from the coordinator's account.
    const { consumedByEpoch: epochs, checksumsByStep, problems } = ledger([w1, w2, w3, w4]);
    t.deepEqual(problems, [], 'every completed step is explained by the shards the workers received');
    const finished = [...epochs.keys()].sort((a, b) => a - b).slice(0, -1);
    t.true(finished.length >= 5, `${finished.length} finished epochs`);
    const all = Array.from({ length: DATASET }, (_, i) => i);
    for (const epoch of finished)
      t.deepEqual(
        [...(epochs.get(epoch) ?? [])].sort((a, b) => a - b),
        all,
        `epoch ${epoch} consumed each sample exactly once`,
      );
    const diverged = [...checksumsByStep].filter(([, checksums]) => checksums.size !== 1);
    t.deepEqual(diverged, [], 'after every step, every worker that applied it holds the same parameters');
    t.is(checksumsByStep.size, records.length, 'every completed step was applied by some worker');
    // The checkpoint the coordinator wrote on SIGTERM: the parameters after its last completed step.
    const [newest] = new CheckpointStore(join(out, 'checkpoints'), 1).list();
    const weights = loadWeights(newest);
    t.deepEqual(
      [...(checksumsByStep.get(weights.meta.step - 1) ?? [])],
      [checksumOf(weights.params)],
      "the workers hold the parameters of the coordinator's final checkpoint",
    );
    const last = epochs.get(Math.max(...epochs.keys())) ?? [];
    t.is(new Set(last).size, last.length, 'no repeat in the unfinished epoch');
    t.log(
      `${records.length} steps over ${finished.length} finished epochs; workers per step: ${[...new Set(records.map((r) => r.workers))].join(', ')}`,
    );
  },
});

test.serial(failuresAndMembership, 'star');
test.serial(failuresAndMembership, 'sharded');
