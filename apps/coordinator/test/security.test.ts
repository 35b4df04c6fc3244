import test from 'ava';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dealer, curveKeyPair } from 'zeromq';
import { encodeMessage, PROTOCOL_VERSION, readKeyPair, readPublicKey } from '@ddpm/protocol';
import { runCommand } from '@ddpm/runtime';
import { COORDINATOR_BIN, freePort, jsonLines, ProcessCluster, WORKER_BIN } from './process-cluster.ts';
import { z85Decode, z85Encode } from '@ddpm/cluster';
import { keygenCommand } from '@ddpm/commands';

const hello = (name: string): Buffer[] =>
  encodeMessage({
    workerId: 0,
    sequence: 1,
    runId: '',
    hello: { protocolVersion: PROTOCOL_VERSION, workerName: name, backend: 'cpu', capabilities: { hasDataset: false } },
  });

/** Sends a Hello from a DEALER with `options`; resolves with the number of messages received within `ms`. */
async function probe(endpoint: string, options: ConstructorParameters<typeof Dealer>[0], ms: number): Promise<number> {
  const dealer = new Dealer({ linger: 0, receiveTimeout: ms, ...options });
  dealer.connect(endpoint);
  let received = 0;
  try {
    await dealer.send(hello('intruder'));
    for await (const [frame] of dealer) if (frame !== undefined) received += 1;
  } catch (error) {
    if ((error as { code?: string }).code !== 'EAGAIN') throw error;
  } finally {
    dealer.close();
  }
  return received;
}

test('Z85 matches the RFC 32 test vector and round-trips a CURVE key', (t) => {
  const vector = Uint8Array.of(0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b);
  t.is(z85Encode(vector), 'HelloWorld');
  t.deepEqual(z85Decode('HelloWorld'), vector);
  const { publicKey } = curveKeyPair();
  t.is(z85Encode(z85Decode(publicKey)), publicKey);
  t.throws(() => z85Decode('abc'), { message: /multiple of 5/ });
});

test('with CURVE on, peers without an allowed key get nothing in, and an allowed worker trains', async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-curve-');
  const keys = join(cluster.dir, 'keys');
  for (const name of ['coordinator', 'w1', 'intruder'])
    t.is(await runCommand(keygenCommand(), ['node', 'ddpm', '--out', keys, '--name', name]), 0);
  t.is(statSync(join(keys, 'w1.key')).mode & 0o777, 0o600, 'the secret key file is private');
  t.is(
    await runCommand(keygenCommand(), ['node', 'ddpm', '--out', keys, '--name', 'w1']),
    1,
    'keygen never overwrites keys',
  );
  const allowed = join(keys, 'allowed');
  writeFileSync(allowed, `# workers\n${readPublicKey(join(keys, 'w1.pub'))}\n`);
  const port = await freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const out = join(cluster.dir, 'run');
  const coordinator = cluster.start('coordinator', COORDINATOR_BIN, [
    '--preset',
    'mnist-tiny',
    '--steps',
    '3',
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
    '10',
    '--bind',
    endpoint,
    '--no-metrics',
    '--curve-secret-key',
    join(keys, 'coordinator.key'),
    '--allow-keys',
    allowed,
    '--out',
    out,
  ]);
  await cluster.waitFor(
    'the coordinator listening',
    () => jsonLines(coordinator.logPath).some((r) => r.msg === 'coordinator listening'),
    60_000,
  );
  const server = readKeyPair(join(keys, 'coordinator.key'));
  const intruder = readKeyPair(join(keys, 'intruder.key'));
  const w1 = readKeyPair(join(keys, 'w1.key'));
  const [plain, unknownKey, wrongServer] = await Promise.all([
    probe(endpoint, {}, 1500),
    probe(
      endpoint,
      { curveServerKey: server.publicKey, curvePublicKey: intruder.publicKey, curveSecretKey: intruder.secretKey },
      1500,
    ),
    probe(
      endpoint,
      { curveServerKey: curveKeyPair().publicKey, curvePublicKey: w1.publicKey, curveSecretKey: w1.secretKey },
      1500,
    ),
  ]);
  t.deepEqual(
    { plain, unknownKey, wrongServer },
    { plain: 0, unknownKey: 0, wrongServer: 0 },
    'no answer, not even an Error, reaches a peer that is not allowed',
  );
  const worker = cluster.start('w1', WORKER_BIN, [
    '--connect',
    endpoint,
    '--name',
    'w1',
    '--backend',
    'wasm',
    '--dataset-limit',
    '10',
    '--no-metrics',
    '--curve-key',
    join(keys, 'w1.key'),
    '--coordinator-key',
    join(keys, 'coordinator.pub'),
  ]);
  t.deepEqual(
    (await Promise.all([coordinator.exited, worker.exited])).map((e) => e.code),
    [0, 0],
    cluster.dumpLogs(),
  );
  const log = jsonLines(coordinator.logPath);
  t.deepEqual(
    log.filter((r) => /registered/.test(String(r.msg))).map((r) => r.worker),
    ['w1'],
    'only the allowed worker registered',
  );
  t.true(
    log.some(
      (r) =>
        r.msg === 'refused a peer: its CURVE public key is not in --allow-keys' && r.publicKey === intruder.publicKey,
    ),
    'the ZAP handler refused the intruder by key',
  );
  t.regex(readFileSync(join(keys, 'w1.key'), 'utf8'), /^# ddpm CURVE key pair/);
});
