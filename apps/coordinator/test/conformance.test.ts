// Conformance: a coordinator process driven by two scripted foreign workers (foreign-peer.ts) that know only proto/,
// docs/protocol.md and the generated codec. Each rule checked here is one the documentation states.
import test from 'ava';
import { join } from 'node:path';
import { wire } from '@ddpm/protocol';
import { checksumOf, ForeignPeer } from './foreign-peer.ts';
import { ForeignReplica, hello } from './foreign-replica.ts';
import { COORDINATOR_BIN, freePort, ProcessCluster } from './process-cluster.ts';

const { ErrorCode, ErrorReason } = wire;
const DEADLINE_MS = 2000;

test('a foreign worker built from proto/ and docs/protocol.md alone: join, errors, resend, the step deadline, resync', async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-conformance-');
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  cluster.start('coordinator', COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', '1000', '--batch', '2', '--seed', '3', '--timesteps', '100'],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm'],
    ...['--dataset-limit', '30', '--checkpoint-every', '0', '--checkpoint-seconds', '0', '--no-metrics'],
    ...['--bind', endpoint, '--min-workers', '2', '--max-workers', '4'],
    ...['--heartbeat-interval', '0.5', '--heartbeat-timeout', '60', '--bucket-mb', '0.0625'],
    ...['--step-timeout', String(DEADLINE_MS / 1000), '--out', join(cluster.dir, 'run')],
  ]);
  const [a, b, c] = [
    new ForeignReplica(new ForeignPeer(endpoint)),
    new ForeignReplica(new ForeignPeer(endpoint)),
    new ForeignPeer(endpoint),
  ];
  t.teardown(() => Promise.all([a.peer.close(), b.peer.close(), c.close()]));

  // A bad worker_name: BAD_MESSAGE, fatal, BAD_WORKER_NAME, in reply to the Hello.
  const badHello = await c.send(hello('no spaces allowed'));
  const bad = (await c.next('an Error', (m) => m.envelope.body === 'error')).envelope.error;
  t.like(bad, { code: ErrorCode.BAD_MESSAGE, fatal: true, reason: ErrorReason.BAD_WORKER_NAME, inReplyTo: badHello });

  // Join: a Welcome each (parameters whose CRC-32 is the checksum), then StepStart 0 with the deadline.
  await a.peer.send(hello('foreign-a'));
  await b.peer.send(hello('foreign-b'));
  for (const w of [a, b]) {
    await w.expect('welcome');
    const start = (await w.expect('stepStart')).envelope.stepStart;
    t.is(start?.timeoutMs, 300_000, "a worker's first step (model build) gets at least 300 s");
    t.is(start?.step, 0);
  }
  t.true(a.params.length > 0 && a.starts.length > 1, `${a.params.length} parameters in ${a.starts.length} buckets`);

  // WRONG_STEP names the refused step and the message.
  const wrong = await a.gradient(0, { step: 7 });
  const wrongStep = (await a.expect('error')).envelope.error;
  t.like(wrongStep, { code: ErrorCode.WRONG_STEP, step: 7, inReplyTo: wrong, fatal: false });

  // Gradient.samples must equal the StepStart's index count; a refused bucket may be resent.
  const short = await a.gradient(0, { samples: 1 });
  t.like((await a.expect('error')).envelope.error, { code: ErrorCode.UNEXPECTED_MESSAGE, inReplyTo: short, step: 0 });
  await a.wholeGradient();
  await b.wholeGradient();
  for (const w of [a, b]) {
    const update = (await w.expect('update')).envelope.update;
    t.like(update, { step: 0, skipped: false, contributors: 2 }, 'the resent bucket counted');
  }

  // The step deadline: b heartbeats but sends no gradient for step 1; it is dropped and told, a's step completes.
  for (const w of [a, b]) await w.expect('stepStart', (m) => m.envelope.stepStart?.step === 1);
  t.is(b.start?.timeoutMs, DEADLINE_MS, 'then StepStart.timeout_ms is --step-timeout');
  await a.wholeGradient();
  const sentAt = Date.now();
  const heartbeat = () => b.peer.send({ heartbeat: { sentAtUnixMs: Date.now(), step: 0 } });
  const timeout = (await b.expect('error', undefined, heartbeat)).envelope.error;
  const waitedMs = Date.now() - sentAt;
  t.like(timeout, { code: ErrorCode.TIMEOUT, reason: ErrorReason.STEP_DEADLINE_MISSED, step: 1, fatal: false });
  t.true(waitedMs <= DEADLINE_MS + 2500, `dropped ${waitedMs} ms after a's gradient (deadline ${DEADLINE_MS} ms)`);
  t.like((await a.expect('update')).envelope.update, { step: 1, contributors: 1 });

  // Its next message is STALE_STATE/REJOIN; a Hello with resume brings it back with a Welcome.
  await heartbeat();
  t.like((await b.expect('error')).envelope.error, { code: ErrorCode.STALE_STATE, reason: ErrorReason.REJOIN });
  const resume = {
    runId: b.peer.runId,
    workerId: b.peer.workerId,
    lastAppliedStep: 0,
    parameterChecksum: checksumOf(b.params),
  };
  b.peer.workerId = 0;
  b.peer.runId = '';
  await b.peer.send(hello('foreign-b', resume));
  await b.expect('welcome');

  // A checksum mismatch: STALE_STATE/RESYNC_FOLLOWS naming the step; the Welcome that follows resynchronises a.
  for (const w of [a, b]) await w.expect('stepStart', (m) => m.envelope.stepStart?.shardCount === 2);
  const step = a.start?.step ?? -1;
  t.is(b.start?.step, step, 'both take part in the step after the rejoin');
  const forged = await a.gradient(0, { parameterChecksum: (checksumOf(a.params) + 1) >>> 0 });
  const stale = (await a.expect('error')).envelope.error;
  t.like(stale, { code: ErrorCode.STALE_STATE, reason: ErrorReason.RESYNC_FOLLOWS, step, inReplyTo: forged });
  a.params[0] += 1; // the replica really is off now: only the Welcome can repair it
  await b.wholeGradient();
  await b.expect('update', (m) => m.envelope.update?.step === step);
  const welcome = (await a.expect('welcome')).envelope.welcome;
  t.like(welcome, { workerId: a.peer.workerId, step: step + 1 }, 'the same worker id, at the next step');
  t.is(checksumOf(a.params), checksumOf(b.params), "a holds the coordinator's parameters again");
  for (const w of [a, b]) await w.expect('stepStart', (m) => m.envelope.stepStart?.shardCount === 2);
  t.is(a.start?.step, step + 1, 'and takes part in the next step');
});
