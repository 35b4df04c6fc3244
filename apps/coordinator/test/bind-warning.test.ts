import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPublicKey } from '@ddpm/protocol';
import { runCommand } from '@ddpm/runtime';
import { keygenCommand } from '@ddpm/commands';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster } from './process-cluster.ts';

/** Starts a coordinator on `host` (with CURVE when `curve`), waits until it listens; returns its log records. */
async function startOn(t: ExecutionContext, host: string, curve: boolean): Promise<Record<string, unknown>[]> {
  const cluster = new ProcessCluster(t, 'ddpm-bind-warning-');
  const curveFlags: string[] = [];
  if (curve) {
    const keys = join(cluster.dir, 'keys');
    for (const name of ['coordinator', 'w1'])
      t.is(await runCommand(keygenCommand(), ['node', 'ddpm', '--out', keys, '--name', name]), 0);
    writeFileSync(join(keys, 'allowed'), `${readPublicKey(join(keys, 'w1.pub'))}\n`);
    curveFlags.push('--curve-secret-key', join(keys, 'coordinator.key'), '--allow-keys', join(keys, 'allowed'));
  }
  const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', '1', '--backend', 'cpu', '--dataset-limit', '8', '--no-metrics'],
    ...['--bind', `tcp://${host}:${await freePort()}`, '--out', join(cluster.dir, 'run'), ...curveFlags],
  ]);
  const listening = () => jsonLines(coordinator.logPath).some((r) => r.msg === 'coordinator listening');
  await cluster.waitFor('the coordinator listening', listening, 60_000, coordinator);
  return jsonLines(coordinator.logPath);
}

const warned = (records: Record<string, unknown>[]) =>
  records.filter((r) => String(r.msg).startsWith('WARNING: --bind') && r.level === 40);

test('a plaintext bind on all interfaces warns loudly at start: what leaks and how to turn CURVE on', async (t) => {
  const [warning] = warned(await startOn(t, '0.0.0.0', false));
  t.truthy(warning, 'a warn-level record');
  t.regex(String(warning?.msg), /reachable from the network and CURVE is off/);
  t.regex(String(warning?.msg), /gradients cross the wire in clear/);
  t.regex(String(warning?.msg), /--curve-secret-key keys\/coordinator\.key --allow-keys FILE/);
});

const quiet = test.macro({
  async exec(t, host: string, curve: boolean) {
    t.deepEqual(warned(await startOn(t, host, curve)), []);
  },
  title: (_, host: string, curve: boolean) => `no warning on ${host}${curve ? ' with CURVE' : ' (loopback)'}`,
});
test(quiet, '127.0.0.1', false);
test(quiet, '0.0.0.0', true);
