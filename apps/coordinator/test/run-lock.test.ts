import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster } from './process-cluster.ts';

test('a second coordinator on a locked --out is refused naming the holder; after kill -9 the stale lock is taken over', async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-run-lock-');
  const out = join(cluster.dir, 'run');
  const args = async (): Promise<string[]> => [
    ...['--preset', 'mnist-tiny', '--steps', '5', '--batch', '2', '--backend', 'wasm', '--dataset-limit', '8'],
    ...[
      '--timesteps',
      '20',
      '--sample-steps',
      '10',
      '--no-metrics',
      '--min-workers',
      '1',
      '--resume',
      'latest',
      '--out',
      out,
    ],
    ...['--bind', `tcp://127.0.0.1:${await freePort()}`],
  ];
  const listening = (logPath: string) => (): boolean =>
    jsonLines(logPath).some((record) => record.msg === 'coordinator listening');
  const first = cluster.start('first', COORDINATOR_BIN, await args());
  await cluster.waitFor('the first coordinator listening', listening(first.logPath), 60_000, first);

  const second = cluster.start('second', COORDINATOR_BIN, await args());
  const refused = await second.exited;
  t.is(refused.code, 1, cluster.dumpLogs());
  const message = readFileSync(second.logPath, 'utf8');
  t.regex(message, new RegExp(`in use by ddpm coordinator \\(pid ${first.child.pid} on `));
  t.regex(message, /Stop that process or wait for it to finish, or pass another --out/);
  t.false(listening(second.logPath)(), 'the second coordinator never bound its socket');

  first.child.kill('SIGKILL');
  await first.exited;
  const third = cluster.start('third', COORDINATOR_BIN, await args());
  await cluster.waitFor('the third coordinator listening', listening(third.logPath), 60_000, third);
  t.true(
    jsonLines(third.logPath).some((record) =>
      /took over a stale run lock .*that process is gone/.test(String(record.msg)),
    ),
    'the stale lock of the killed coordinator is reported',
  );
  const lock = JSON.parse(readFileSync(join(out, 'run.lock'), 'utf8')) as { pid: number; command: string };
  t.deepEqual(lock, { ...lock, pid: third.child.pid, command: 'coordinator' });
});
