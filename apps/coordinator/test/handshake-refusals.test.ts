import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dealer, curveKeyPair } from 'zeromq';
import { readKeyPair, readPublicKey } from '@ddpm/protocol';
import { runCommand } from '@ddpm/runtime';
import { keygenCommand } from '@ddpm/commands';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster } from './process-cluster.ts';

/** Connects a DEALER with `options` and sends one frame, so its handshake runs; closed in teardown at the latest. */
function knock(t: { teardown: (fn: () => void) => void }, endpoint: string, options: object): Dealer {
  const dealer = new Dealer({ linger: 0, ...options });
  t.teardown(() => {
    if (!dealer.closed) dealer.close();
  });
  dealer.connect(endpoint);
  dealer.send('hello?').catch(() => undefined);
  return dealer;
}

test('refused handshakes (no key, wrong server key, unknown key) are each logged with a reason and counted', async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-refusals-');
  const keys = join(cluster.dir, 'keys');
  for (const name of ['coordinator', 'w1', 'intruder'])
    t.is(await runCommand(keygenCommand(), ['node', 'ddpm', '--out', keys, '--name', name]), 0);
  const allowed = join(keys, 'allowed');
  writeFileSync(allowed, `${readPublicKey(join(keys, 'w1.pub'))}\n`);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const endpoint = `tcp://127.0.0.1:${port}`;
  const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', '3', '--batch', '2', '--timesteps', '100', '--sample-every', '0'],
    ...['--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm', '--dataset-limit', '10'],
    ...['--bind', endpoint, '--metrics-port', String(metricsPort), '--out', join(cluster.dir, 'run')],
    ...['--curve-secret-key', join(keys, 'coordinator.key'), '--allow-keys', allowed],
  ]);
  const log = (): Record<string, unknown>[] => jsonLines(coordinator.logPath);
  await cluster.waitFor(
    'the coordinator listening',
    () => log().some((r) => r.msg === 'coordinator listening'),
    60_000,
  );
  const server = readKeyPair(join(keys, 'coordinator.key'));
  const [w1, intruder] = [readKeyPair(join(keys, 'w1.key')), readKeyPair(join(keys, 'intruder.key'))];
  // A plaintext peer is no_curve, or bad_handshake (EPIPE) when it hangs up before libzmq reports the mismatch.
  const peers: [string, object][] = [
    ['no_curve|bad_handshake', {}],
    [
      'wrong_server_key',
      { curveServerKey: curveKeyPair().publicKey, curvePublicKey: w1.publicKey, curveSecretKey: w1.secretKey },
    ],
    [
      'key_not_allowed',
      { curveServerKey: server.publicKey, curvePublicKey: intruder.publicKey, curveSecretKey: intruder.secretKey },
    ],
  ];
  const reasons = peers.map(([reason]) => reason);
  const logged = (reason: string): Record<string, unknown> | undefined =>
    log().find((r) => reason.split('|').includes(String(r.reason)) && String(r.msg).startsWith('refused a peer: '));
  // One peer at a time, each closed once its refusal is logged, so the reasons cannot be confused.
  for (const [reason, options] of peers) {
    const dealer = knock(t, endpoint, options);
    await cluster.waitFor(`the ${reason} refusal in the log`, () => logged(reason) !== undefined, 30_000);
    dealer.close();
  }
  for (const reason of reasons) {
    t.is(logged(reason)?.level, 40, `${reason} is a warning`);
    t.is(logged(reason)?.endpoint, endpoint, `${reason} names the endpoint it reached`);
  }
  t.regex(String(logged('no_curve|bad_handshake')?.msg), /without CURVE|hung up|--curve-key and --coordinator-key/);
  t.regex(String(logged('wrong_server_key')?.msg), /--coordinator-key/);
  t.true(
    log().some((r) => r.publicKey === intruder.publicKey && r.address === '127.0.0.1'),
    'the ZAP handler logs the unknown key with the peer address',
  );
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const counted = (reason: string): number =>
    Number(new RegExp(`^ddpm_handshakes_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  t.true(counted('no_curve') + counted('bad_handshake') >= 1, 'the plaintext peer counted');
  t.true(counted('wrong_server_key') >= 1, 'the peer with another server key counted');
  t.true(counted('key_not_allowed') >= 1, 'the unknown key counted');
  t.regex(text, /^ddpm_handshakes_refused_total\{reason="hello_refused"\} 0$/m, 'no Hello got through to be refused');
  coordinator.child.kill('SIGTERM');
  await coordinator.exited;
});
