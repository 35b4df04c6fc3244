// Conformance of the sharded topology: a coordinator and a real worker trained alongside a foreign worker written from
// docs/protocol.md ("Sharded topology") alone, and the same job in the star with a foreign star worker. The foreign
// owner's float64 reduce must be bit for bit the coordinator's, so both runs end with the same parameters.
import test from 'ava';
import { join } from 'node:path';
import { loadWeights } from '@ddpm/training';
import { checksumOf, ForeignPeer } from './foreign-peer.ts';
import { ForeignReplica, hello } from './foreign-replica.ts';
import { ForeignShardedWorker } from './foreign-sharded-worker.ts';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

const STEPS = 6;
/** The foreign workers' gradient: small, varied and exact in float32, so that a reduce in another order or precision shows. */
const value = (index: number, step: number): number => Math.fround(Math.sin(index * 0.37 + step) * 1e-3);

function start(cluster: ProcessCluster, topology: 'star' | 'sharded', port: number) {
  const endpoint = `tcp://127.0.0.1:${port}`;
  const out = join(cluster.dir, topology);
  const coordinator = cluster.start(`${topology}-coordinator`, COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', String(STEPS), '--batch', '6', '--seed', '8', '--timesteps', '100'],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm'],
    ...['--dataset-limit', '30', '--checkpoint-every', '0', '--no-metrics', '--bucket-mb', '0.0625'],
    ...['--bind', endpoint, '--min-workers', '2', '--max-workers', '2', '--topology', topology, '--out', out],
  ]);
  return { endpoint, out, coordinator };
}

/** The real worker, started once the foreign one is welcomed (so the foreign one is worker 1 in both runs). */
async function realWorker(cluster: ProcessCluster, topology: 'star' | 'sharded', endpoint: string) {
  const peer = topology === 'sharded' ? ['--peer-endpoint', `tcp://127.0.0.1:${await freePort()}`] : [];
  return cluster.start(`${topology}-worker`, WORKER_BIN, [
    ...['--connect', endpoint, '--name', 'real', '--backend', 'wasm', '--dataset-limit', '30', '--no-metrics'],
    ...peer,
  ]);
}

test('a foreign sharded worker owns buckets, reduces bit for bit as the coordinator would, forwards updates, and the run ends on the star run’s parameters', async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-conformance-sharded-');
  const [sharded, star] = [start(cluster, 'sharded', await freePort()), start(cluster, 'star', await freePort())];

  const foreign = await ForeignShardedWorker.join(
    sharded.endpoint,
    `tcp://127.0.0.1:${await freePort()}`,
    'foreign',
    value,
  );
  t.teardown(() => foreign.close());
  const shardedWorker = await realWorker(cluster, 'sharded', sharded.endpoint);
  const reduced: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const { step, means } = await foreign.step();
    t.is(step, s);
    reduced.push(means.size);
    const start = foreign.replica.start;
    t.deepEqual(
      start?.peers.map((p) => p.workerId),
      [1, 2],
      'the foreign worker joined first',
    );
  }
  t.true(
    reduced.every((n) => n > 0),
    `the foreign worker owned and reduced buckets every step (${reduced.join(', ')})`,
  );

  const starForeign = new ForeignReplica(new ForeignPeer(star.endpoint), value);
  t.teardown(() => starForeign.peer.close());
  await starForeign.peer.send(hello('foreign'));
  await starForeign.expect('welcome');
  const starWorker = await realWorker(cluster, 'star', star.endpoint);
  for (let s = 0; s < STEPS; s++) {
    await starForeign.expect('stepStart');
    await starForeign.wholeGradient();
    t.like((await starForeign.expect('update')).envelope.update, { step: s, contributors: 2 });
  }

  const exits = await Promise.all(
    [sharded.coordinator, shardedWorker, star.coordinator, starWorker].map((p) => p.exited),
  );
  t.deepEqual(
    exits.map((e) => e.code),
    [0, 0, 0, 0],
    cluster.dumpLogs(),
  );
  const a = loadWeights(join(sharded.out, 'weights.ddpm'));
  const b = loadWeights(join(star.out, 'weights.ddpm'));
  t.is(a.meta.step, STEPS);
  t.true(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer)), 'the star run’s parameters, bit for bit');
  t.is(checksumOf(foreign.replica.params), checksumOf(a.params), "the foreign replica holds the coordinator's bits");
  const steps = jsonLines(join(sharded.out, 'metrics.jsonl'));
  t.true(steps.length === STEPS && steps.every((r) => r.workers === 2 && r.skipped === false));
  const realLog = jsonLines(shardedWorker.logPath).map((r) => String(r.msg));
  t.false(
    realLog.some((m) => /^dropped|rejected a malformed/.test(m)),
    'the real worker took every message of the foreign one',
  );
});
