import test from 'ava';
import { join } from 'node:path';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

const failingWorker = test.macro({
  title: (_, topology: string) =>
    `a worker whose compute fails (a lost GPU device) tells the coordinator and is dropped at once, not after the heartbeat timeout (${topology})`,
  exec: async (t, topology: string) => {
    const cluster = new ProcessCluster(t, 'ddpm-worker-failure-');
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const out = join(cluster.dir, 'run');
    const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
      ...['--preset', 'mnist-tiny', '--steps', '8', '--batch', '2', '--timesteps', '100', '--backend', 'wasm'],
      ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--dataset-limit', '30'],
      ...['--checkpoint-every', '0', '--no-metrics', '--bind', endpoint, '--min-workers', '1', '--out', out],
      // A silent worker would be dropped only after 120 s: the test ends long before that.
      ...['--heartbeat-interval', '1', '--heartbeat-timeout', '120', '--topology', topology],
    ]);
    const worker = (name: string, env: Record<string, string> = {}) =>
      cluster.start(
        name,
        WORKER_BIN,
        [
          ...['--connect', endpoint, '--name', name, '--backend', 'wasm', '--dataset-limit', '30', '--no-metrics'],
          ...['--peer-endpoint', 'tcp://127.0.0.1:0'],
        ],
        env,
      );
    const failing = worker('failing', { DDPM_FAULT_FAIL_STEP: '2' });
    worker('healthy');
    const failed = await failing.exited;
    t.is(failed.code, 1, 'the failing worker exits with an error');
    const startedWaitingMs = Date.now();
    t.is((await coordinator.exited).code, 0, cluster.dumpLogs());
    t.true(Date.now() - startedWaitingMs < 60_000, 'the run went on without waiting for the heartbeat timeout');
    const dropped = jsonLines(coordinator.logPath).find((r) => r.msg === 'worker reported an error');
    t.regex(
      String(dropped?.reason),
      /worker failing stopped: test hook DDPM_FAULT_FAIL_STEP: the compute of step 2 failed/,
    );
    const steps = jsonLines(join(out, 'metrics.jsonl'));
    t.is(steps.length, 8, 'all 8 steps ran');
    t.is(steps[steps.length - 1].workers, 1, 'the last steps ran on the healthy worker alone');
    t.false(
      jsonLines(coordinator.logPath).some((r) => /silent for/.test(String(r.msg))),
      'not dropped by the timeout',
    );
    // Sharded: the failing worker's parts were mixed into the owners' sums, so step 2 ran again without it.
    const again = jsonLines(coordinator.logPath).some((r) => /step 2 runs again without failing/.test(String(r.msg)));
    t.is(again, topology === 'sharded');
  },
});

test(failingWorker, 'star');
test(failingWorker, 'sharded');
