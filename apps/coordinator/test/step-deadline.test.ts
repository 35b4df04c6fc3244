import test from 'ava';
import { join } from 'node:path';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';

// Far above a healthy mnist-tiny step even on a loaded 2-core machine (3 s once dropped the good worker in CI).
const DEADLINE_S = 8;
const HEARTBEAT_S = 0.5;

function records(p: ClusterProcess, pattern: RegExp): Record<string, unknown>[] {
  return jsonLines(p.logPath).filter((r) => pattern.test(String(r.msg ?? '')));
}

const silentWorker = test.macro({
  title: (_, topology: string) =>
    `a worker that heartbeats but never sends its gradient delays the step by no more than --step-timeout, is dropped, told, and rejoins (${topology})`,
  exec: async (t, topology: 'star' | 'sharded') => {
    const cluster = new ProcessCluster(t, 'ddpm-deadline-');
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const out = join(cluster.dir, 'run');
    const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
      ...['--preset', 'mnist-tiny', '--steps', '7', '--batch', '2', '--seed', '5', '--timesteps', '100'],
      ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm'],
      ...['--dataset-limit', '30', '--checkpoint-every', '0', '--checkpoint-seconds', '0', '--no-metrics'],
      ...['--bind', endpoint, '--min-workers', '2', '--max-workers', '3'],
      // The heartbeat timeout is far away: only the step deadline can drop the silent worker.
      ...['--heartbeat-interval', String(HEARTBEAT_S), '--heartbeat-timeout', '60'],
      ...['--step-timeout', String(DEADLINE_S), '--out', out, '--topology', topology],
    ]);
    const worker = (name: string, env: Record<string, string>): ClusterProcess =>
      cluster.start(
        name,
        WORKER_BIN,
        [
          ...['--connect', endpoint, '--name', name, '--backend', 'wasm', '--dataset-limit', '30', '--no-metrics'],
          ...['--peer-endpoint', 'tcp://127.0.0.1:0'],
        ],
        env,
      );
    const good = worker('good', {});
    const silent = worker('silent', { DDPM_FAULT_SILENT_STEP: '2' });
    const metricsPath = join(out, 'metrics.jsonl');
    // Without a deadline the silent worker would hold step 2 until the 60 s heartbeat timeout.
    await cluster.waitFor('7 steps', () => jsonLines(metricsPath).length >= 7, 45_000);
    const [c, g, s] = await Promise.all([coordinator.exited, good.exited, silent.exited]);
    t.deepEqual([c.code, g.code, s.code], [0, 0, 0], cluster.dumpLogs());

    const metrics = jsonLines(metricsPath);
    t.deepEqual(
      metrics.map((r) => r.step),
      [1, 2, 3, 4, 5, 6, 7],
    );
    const late = metrics[2]; // step index 2, the silent one
    const seconds = Number(late.step_seconds);
    t.log(`step 2 took ${seconds.toFixed(2)} s with a ${DEADLINE_S} s deadline (tick ${HEARTBEAT_S} s)`);
    t.true(seconds >= DEADLINE_S, `the step waited for the deadline (${seconds} s)`);
    t.true(
      // Sharded: plus the attempt that runs the step again.
      seconds <= DEADLINE_S + HEARTBEAT_S + (topology === 'sharded' ? 3 : 1.5),
      `the step was delayed by no more than the deadline (${seconds} s)`,
    );
    if (topology === 'star') t.is(late.workers, 1, 'step 2 completed with the worker that delivered');
    else {
      // The step's time includes the abandoned attempt. The good worker handed off all its parts, so only the silent
      // one is blamed; the step runs again, with the silent one too when it rejoined in time.
      const again = records(coordinator, /step 2 runs again without silent \(timeout\)/);
      t.is(again.length, 1, 'the attempt was abandoned once, for the silent worker');
    }
    t.is(metrics[1].workers, 2);
    t.is(metrics.at(-1)?.workers, 2, 'the dropped worker rejoined');

    const dropped = records(coordinator, /missed the deadline of step 2/);
    t.is(dropped.length, 1, cluster.dumpLogs());
    t.is(dropped[0]?.worker, 'silent');
    t.regex(
      String(dropped[0]?.msg),
      new RegExp(`0 of \\d+ gradient buckets arrived within ${DEADLINE_S} s .*--step-timeout`),
    );
    const told = records(silent, /coordinator reported an error/);
    t.regex(String(told[0]?.reason), /TIMEOUT: worker silent missed the deadline of step 2/);
    t.true(records(silent, /rejoining/).length >= 1, 'it rejoined through STALE_STATE/REJOIN');
    t.deepEqual(records(good, /error/i), [], 'the worker that delivered saw no error');
  },
});

test.serial(silentWorker, 'star');
test.serial(silentWorker, 'sharded');
