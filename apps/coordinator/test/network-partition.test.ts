import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  joinsBesidesOwnerLoss,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';

const TIMEOUT_S = 3;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Creates a network namespace joined to this one by a veth pair; returns its name and both addresses, or why it cannot. */
/** Namespace `k` of this process (tests run concurrently: each gets its own names and subnet). */
function createNamespace(
  k: number,
): { ns: string; host: string; guest: string; cut: () => void; heal: () => void; remove: () => void } | string {
  const id = `${process.pid % 100000}${k}`;
  const ns = `ddpm-${id}`;
  const [outside, inside] = [`dv${id}a`, `dv${id}b`];
  const net = `10.213.${(process.pid + 7 * k) % 250}`;
  try {
    ip('netns', 'add', ns);
  } catch (error) {
    return `ip netns add failed (${(error as Error).message.split('\n')[0]}); network namespaces need root and iproute2`;
  }
  const remove = (): void => {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  };
  try {
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', ns);
    ip('addr', 'add', `${net}.1/24`, 'dev', outside);
    ip('link', 'set', outside, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', inside);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    remove();
    return `could not wire the namespace: ${(error as Error).message.split('\n')[0]}`;
  }
  return {
    ns,
    host: `${net}.1`,
    guest: `${net}.2`,
    remove,
    cut: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'down'),
    heal: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up'),
  };
}

const partition = test.macro({
  title: (_, topology: string) =>
    `a worker in another network namespace that is cut off is dropped, the other worker goes on, and after the link returns it rejoins cleanly (${topology})`,
  exec: async (t, topology: 'star' | 'sharded') => {
    const namespace = createNamespace(topology === 'star' ? 0 : 1);
    if (typeof namespace === 'string') {
      // Not a skip: a partition test that cannot partition has tested nothing, so it says what is missing.
      t.fail(
        `${namespace}. This test needs a network namespace: run it as root (or with CAP_NET_ADMIN) where iproute2's \`ip netns\` works, e.g. the CI container.`,
      );
      return;
    }
    t.teardown(namespace.remove);
    const cluster = new ProcessCluster(t, 'ddpm-netns-');
    const port = await freePort();
    const out = join(cluster.dir, 'run');
    const metrics = join(out, 'metrics.jsonl');
    const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
      '--preset',
      'mnist-tiny',
      '--steps',
      '100000',
      '--batch',
      '2',
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
      '12',
      '--checkpoint-every',
      '0',
      '--checkpoint-seconds',
      '0',
      '--bind',
      `tcp://${namespace.host}:${port}`,
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
    ]);
    // Sharded: each worker's peer endpoint on an address the other can route to.
    const args = (name: string, address: string): string[] => [
      '--peer-endpoint',
      `tcp://${address}:0`,
      '--connect',
      `tcp://${namespace.host}:${port}`,
      '--name',
      name,
      '--backend',
      'wasm',
      '--dataset-limit',
      '12',
      '--no-metrics',
    ];
    const local = cluster.start('local', WORKER_BIN, args('local', namespace.host));
    const remote = cluster.start('remote', WORKER_BIN, args('remote', namespace.guest), {}, [
      ...['ip', 'netns', 'exec', namespace.ns],
    ]);
    const steps = (): Record<string, unknown>[] => jsonLines(metrics);
    await cluster.waitFor('both workers in a step', () => steps().some((r) => r.workers === 2), 90_000);
    const log = (p: ClusterProcess): string[] => jsonLines(p.logPath).map((r) => String(r.msg));

    namespace.cut();
    const cutAt = Date.now();
    await cluster.waitFor(
      'the remote worker dropped',
      () => log(coordinator).some((m) => /worker remote silent/.test(m)),
      6 * TIMEOUT_S * 1000,
    );
    const stepsWhileCut = steps().length;
    await cluster.waitFor('the local worker training alone', () => steps().length >= stepsWhileCut + 3, 30_000);
    namespace.heal();
    t.log(`link down for ${Date.now() - cutAt} ms`);
    await cluster.waitFor(
      'the remote worker back',
      () => log(remote).filter((m) => m === 'joined the run').length === 2,
      60_000,
    );
    const rejoinedAt = steps().length;
    await cluster.waitFor(
      'a step with both again',
      () =>
        steps()
          .slice(rejoinedAt)
          .some((r) => r.workers === 2),
      30_000,
    );
    const told = log(remote).some((m) => /does not know this replica/.test(m));
    t.log(
      told
        ? 'the remote worker was told its state was stale on its old connection'
        : 'the remote worker reconnected on a new connection with resume',
    );

    coordinator.child.kill('SIGTERM');
    t.is((await coordinator.exited).code, 0);
    local.child.kill('SIGTERM');
    remote.child.kill('SIGTERM');
    t.deepEqual(
      (await Promise.all([local.exited, remote.exited])).map((e) => e.code),
      [0, 0],
      'neither worker restarted or failed',
    );
    t.is(joinsBesidesOwnerLoss(local, topology), 1, 'the local worker never noticed');
  },
});

test.serial(partition, 'star');
test.serial(partition, 'sharded');
