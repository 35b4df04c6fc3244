import test from 'ava';
import { join } from 'node:path';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

const leaveMidStep = test.macro({
  title: (_, topology: string) =>
    `a worker sent SIGTERM while its step computes leaves cleanly (exit 0, Leave), not as a failed compute (${topology})`,
  exec: async (t, topology: string) => {
    const cluster = new ProcessCluster(t, 'ddpm-leave-mid-step-');
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
      ...['--preset', 'mnist-tiny', '--steps', '100', '--batch', '2', '--timesteps', '100', '--backend', 'cpu'],
      ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--dataset-limit', '30'],
      ...['--checkpoint-every', '0', '--no-metrics', '--bind', endpoint, '--min-workers', '1'],
      ...['--out', join(cluster.dir, 'run'), '--topology', topology],
    ]);
    // 4 s of simulated compute per step: the first gradient bucket leaves after 1.3 s, the last after 4 s.
    const worker = cluster.start(
      'w1',
      WORKER_BIN,
      [
        ...['--connect', endpoint, '--name', 'w1', '--backend', 'cpu', '--dataset-limit', '30', '--no-metrics'],
        ...['--simulate-compute-ms', '4000', '--peer-endpoint', 'tcp://127.0.0.1:0'],
      ],
      { DDPM_LOG_LEVEL: 'debug' },
    );
    await cluster.waitFor(
      'w1 computing a step',
      () => jsonLines(worker.logPath).some((r) => r.msg === 'step received'),
      60_000,
    );
    // Mid-backward: some buckets are out, the rest are still being computed when the socket closes.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    worker.child.kill('SIGTERM');
    t.deepEqual(await worker.exited, { code: 0, signal: null }, cluster.dumpLogs());
    await cluster.waitFor(
      'the coordinator saw the Leave',
      () => jsonLines(coordinator.logPath).some((r) => /worker w1 left \(SIGTERM\)/.test(String(r.msg))),
      30_000,
    );
    t.false(
      jsonLines(worker.logPath).some((r) => Number(r.level) >= 50),
      'no error logged by the worker that left',
    );
  },
});

test(leaveMidStep, 'star');
test(leaveMidStep, 'sharded');
