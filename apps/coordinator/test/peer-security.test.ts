import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dealer, curveKeyPair } from 'zeromq';
import { encodeMessage, readKeyPair, readPublicKey } from '@ddpm/protocol';
import { runCommand } from '@ddpm/runtime';
import { keygenCommand } from '@ddpm/commands';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';

/** A Gradient bucket claiming to come from worker 1: were it let in, the frame checks would log and drop it. */
const gradient = (): Buffer[] =>
  encodeMessage(
    { workerId: 1, sequence: 1, runId: 'intruder', gradient: { step: 1, bucket: 0, samples: 1, loss: 0.1 } },
    [{ name: 'gradient', data: new Float32Array(4), shape: [4] }],
  );

/** Connects a DEALER with `options` to `endpoint`, sends `frames` a few times over `ms`, and closes it. */
async function knock(endpoint: string, options: ConstructorParameters<typeof Dealer>[0], frames: Buffer[], ms: number) {
  const dealer = new Dealer({ linger: 0, sendTimeout: 200, ...options });
  dealer.connect(endpoint);
  try {
    for (let i = 0; i < 5; i += 1) {
      await dealer.send(frames).catch(() => undefined); // EAGAIN while the handshake is refused
      await new Promise((resolve) => setTimeout(resolve, ms / 5));
    }
  } finally {
    dealer.close();
  }
}

test("sharded topology with CURVE: a worker's peer endpoint admits only the step's peers by key; strangers, plaintext and a wrong server key get nothing in, and the run trains", async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-peer-curve-');
  const keys = join(cluster.dir, 'keys');
  for (const name of ['coordinator', 'w1', 'w2', 'intruder'])
    t.is(await runCommand(keygenCommand(), ['node', 'ddpm', '--out', keys, '--name', name]), 0);
  const allowed = join(keys, 'allowed');
  writeFileSync(allowed, `${readPublicKey(join(keys, 'w1.pub'))}\n${readPublicKey(join(keys, 'w2.pub'))}\n`);
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const peerEndpoint = { w1: `tcp://127.0.0.1:${await freePort()}`, w2: `tcp://127.0.0.1:${await freePort()}` };
  const out = join(cluster.dir, 'run');
  const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', '40', '--batch', '2', '--timesteps', '100', '--backend', 'wasm'],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--dataset-limit', '10'],
    ...['--bind', endpoint, '--no-metrics', '--min-workers', '2', '--topology', 'sharded', '--out', out],
    ...['--curve-secret-key', join(keys, 'coordinator.key'), '--allow-keys', allowed],
  ]);
  const worker = (name: 'w1' | 'w2') =>
    cluster.start(name, WORKER_BIN, [
      ...['--connect', endpoint, '--name', name, '--backend', 'wasm', '--dataset-limit', '10', '--no-metrics'],
      ...['--curve-key', join(keys, `${name}.key`), '--coordinator-key', join(keys, 'coordinator.pub')],
      ...['--peer-endpoint', peerEndpoint[name]],
    ]);
  const [w1, w2] = [worker('w1'), worker('w2')];
  await cluster.waitFor(
    'a step of both workers',
    () => jsonLines(join(out, 'metrics.jsonl')).some((r) => r.workers === 2),
    120_000,
  );
  const intruder = readKeyPair(join(keys, 'intruder.key'));
  const w2Keys = readKeyPair(join(keys, 'w2.key'));
  const w1Public = readPublicKey(join(keys, 'w1.pub'));
  await Promise.all([
    knock(peerEndpoint.w1, {}, gradient(), 1500),
    knock(
      peerEndpoint.w1,
      { curveServerKey: w1Public, curvePublicKey: intruder.publicKey, curveSecretKey: intruder.secretKey },
      gradient(),
      1500,
    ),
    // w2's own keys, but a server key that is not w1's: the DEALER refuses w1 (a man in the middle is not trusted).
    knock(
      peerEndpoint.w1,
      { curveServerKey: curveKeyPair().publicKey, curvePublicKey: w2Keys.publicKey, curveSecretKey: w2Keys.secretKey },
      gradient(),
      1500,
    ),
  ]);
  const processes = [coordinator, w1, w2];
  const ended = () => processes.every((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  await cluster.waitFor('the end of the run (40 steps)', ended, 120_000);
  t.deepEqual(
    (await Promise.all(processes.map((p) => p.exited))).map((e) => e.code),
    [0, 0, 0],
    cluster.dumpLogs(),
  );
  const log = jsonLines(w1.logPath);
  t.true(
    log.some(
      (r) =>
        /refused a peer: .*is not a peer of the current step/.test(String(r.msg)) && r.publicKey === intruder.publicKey,
    ),
    "w1's ZAP handler refused the intruder by key",
  );
  t.deepEqual(
    log.filter((r) => /^dropped |rejected a malformed message from a peer/.test(String(r.msg))),
    [],
    'no message of the strangers reached the frame checks: nothing got in',
  );
  const steps = jsonLines(join(out, 'metrics.jsonl'));
  t.is(steps.length, 40);
  t.true(
    steps.every((r) => r.workers === 2 && r.skipped === false),
    'every step ran on both workers',
  );
});
