import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';

function records(p: ClusterProcess, pattern: RegExp): Record<string, unknown>[] {
  return jsonLines(p.logPath).filter((r) => pattern.test(String(r.msg ?? '')));
}

const nanAndStragglers = test.macro({
  title: (_, topology: string) =>
    `a NaN from one worker skips the step for everyone (counted, logged by name), and a persistent straggler is reported and excluded (${topology})`,
  exec: async (t, topology: 'star' | 'sharded') => {
    const cluster = new ProcessCluster(t, 'ddpm-nan-');
    const port = await freePort();
    const out = join(cluster.dir, 'run');
    const endpoint = `tcp://127.0.0.1:${port}`;
    const metricsPort = await freePort();
    const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
      '--preset',
      'mnist-tiny',
      '--steps',
      '100000',
      '--batch',
      '2',
      '--seed',
      '5',
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
      '30',
      '--checkpoint-every',
      '0',
      '--checkpoint-seconds',
      '0',
      '--bind',
      endpoint,
      '--min-workers',
      '2',
      '--max-workers',
      '3',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      String(metricsPort),
      '--heartbeat-interval',
      '0.5',
      '--heartbeat-timeout',
      '20',
      '--straggler-factor',
      '2',
      '--exclude-stragglers',
      '--out',
      out,
      '--topology',
      topology,
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
    const metricsPath = join(out, 'metrics.jsonl');
    // --min-workers 2: step 0 waits for both, so w1's NaN at step 1 is in a step the two share.
    const w1 = worker('w1', { DDPM_FAULT_NAN_STEP: '1' });
    const w2 = worker('w2', {});
    await cluster.waitFor('step 2', () => jsonLines(metricsPath).length >= 2, 90_000);
    const slow = worker('slow', { DDPM_FAULT_DELAY_MS: '1000' });
    await cluster.waitFor('the straggler excluded', () => records(coordinator, /excluded/).length > 0, 120_000);
    const stepsAtExclusion = jsonLines(metricsPath).length;
    await cluster.waitFor(
      'steps without the straggler',
      () => jsonLines(metricsPath).length >= stepsAtExclusion + 3,
      30_000,
    );
    const exposition = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    coordinator.child.kill('SIGTERM');
    t.is((await coordinator.exited).code, 0);
    w1.child.kill('SIGTERM');
    w2.child.kill('SIGTERM');
    const [a, b, s] = await Promise.all([w1.exited, w2.exited, slow.exited]);
    t.deepEqual([a.code, b.code], [0, 0], cluster.dumpLogs());
    t.is(s.code, 1, 'the excluded straggler exits with an error');

    const metrics = jsonLines(join(out, 'metrics.jsonl'));
    t.deepEqual(
      metrics.filter((r) => r.skipped === true).map((r) => r.step),
      [2],
      'exactly step index 1 (record 2) was skipped',
    );
    t.regex(
      String(records(coordinator, /^step 1 skipped for every worker/)[0]?.msg),
      /step 1 skipped for every worker: non-finite gradient from w1/,
    );
    t.true(
      records(w2, /step 1 was skipped by the coordinator/).length === 1,
      'the other worker was told about the skip, with the reason',
    );
    t.false(
      jsonLines(w2.logPath).some((r) => /checksum mismatch/.test(String(r.msg))),
      'the replicas stayed in sync',
    );
    t.regex(exposition, /ddpm_skipped_steps_total\{reason="non_finite_gradient"\} 1/);

    const reported = records(coordinator, /is a straggler/);
    t.is(reported[0]?.worker, 'slow');
    t.true(Number(reported[0]?.stepMs) > 2 * Number(reported[0]?.othersMedianMs));
    t.log(String(reported[0]?.msg));
    t.regex(exposition, /ddpm_worker_failures_total\{(worker="slow",reason="error"|reason="error",worker="slow")\} 1/);
    t.regex(readFileSync(slow.logPath, 'utf8'), /refused this worker: TIMEOUT: excluded as a straggler/);
    t.true(
      metrics.slice(-3).every((r) => r.workers === 2),
      'the run finished with the two fast workers',
    );
  },
});

test.serial(nanAndStragglers, 'star');
test.serial(nanAndStragglers, 'sharded');
