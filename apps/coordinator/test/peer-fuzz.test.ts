import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { decodeMessage, encodeMessage, type OutgoingEnvelope } from '@ddpm/protocol';
import { loadWeights } from '@ddpm/training';
import { fuzzFrames, lcg } from './fuzz-frames.ts';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';

const FRAMES = 5_000;
const SOCKETS = 4;

/**
 * What a stranger on the peer network can send a worker once it knows the run id: parts and updates claiming a worker
 * id that is no peer (99, 7), of the current, a past and a far future step, kinds peers never send, another run's.
 */
function peerMessages(runId: string): Buffer[][] {
  const envelope = (body: Partial<OutgoingEnvelope>, workerId = 99, run = runId): OutgoingEnvelope =>
    ({ workerId, sequence: 3, runId: run, ...body }) as OutgoingEnvelope;
  const part = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 1e3);
  const gradient = (step: number, bucket: number, workerId: number) =>
    encodeMessage(
      envelope({ gradient: { step, attempt: 0, bucket, samples: 1, loss: 0.5, allFinite: true } }, workerId),
      [{ name: 'gradient', data: part, shape: [part.length] }],
    );
  return [
    ...[1, 5, 12, 1_000_000].flatMap((step) => [gradient(step, 0, 99), gradient(step, 1, 7)]),
    encodeMessage(envelope({ updateBucket: { step: 5, attempt: 0, bucket: 0 } }, 7), [
      { name: 'parameters', data: part, shape: [part.length] },
    ]),
    encodeMessage(envelope({ heartbeat: { sentAtUnixMs: Date.now(), step: 3 } })),
    encodeMessage(envelope({ update: { step: 4, skipped: true } })),
    encodeMessage(envelope({ gradient: { step: 6, bucket: 0, samples: 1, loss: 0.5 } }, 2, 'another-run')),
  ];
}

function startRun(cluster: ProcessCluster, name: string, port: number, peerPorts: readonly number[]) {
  const endpoint = `tcp://127.0.0.1:${port}`;
  const out = join(cluster.dir, name);
  const coordinator = cluster.start(`${name}-coordinator`, COORDINATOR_BIN, [
    ...['--preset', 'mnist-tiny', '--steps', '40', '--batch', '2', '--seed', '5', '--timesteps', '100'],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--backend', 'wasm'],
    ...['--dataset-limit', '20', '--checkpoint-every', '0', '--bind', endpoint, '--no-metrics', '--out', out],
    ...['--topology', 'sharded', '--min-workers', '2', '--max-workers', '2'],
  ]);
  const workers: ClusterProcess[] = peerPorts.map((peerPort, i) =>
    cluster.start(`${name}-w${i + 1}`, WORKER_BIN, [
      ...['--connect', endpoint, '--name', `w${i + 1}`, '--backend', 'wasm', '--dataset-limit', '20', '--no-metrics'],
      ...['--peer-endpoint', `tcp://127.0.0.1:${peerPort}`],
    ]),
  );
  return { coordinator, workers, out };
}

/** The run id, from the Error a coordinator answers a junk message with. */
async function runIdOf(endpoint: string): Promise<string> {
  const socket = new Dealer({ linger: 0, receiveTimeout: 10_000 });
  try {
    socket.connect(endpoint);
    await socket.send([randomBytes(5)]);
    return decodeMessage(await socket.receive()).envelope.runId;
  } finally {
    socket.close();
  }
}

test(`sharded topology: ${FRAMES} random, mutated and forged messages to a worker's peer endpoint leave the run training to the bits of an unfuzzed run`, async (t) => {
  const cluster = new ProcessCluster(t, 'ddpm-peer-fuzz-');
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const fuzzed = startRun(cluster, 'fuzzed', ports[0], [ports[1], ports[2]]);
  const clean = startRun(cluster, 'clean', ports[3], [ports[4], ports[5]]);
  await cluster.waitFor(
    'the fuzzed run training on both workers',
    () => jsonLines(join(fuzzed.out, 'metrics.jsonl')).some((r) => r.workers === 2),
    90_000,
  );
  const valid = peerMessages(await runIdOf(`tcp://127.0.0.1:${ports[0]}`));
  const sockets = Array.from({ length: SOCKETS }, () => new Dealer({ linger: 0, sendTimeout: 2000 }));
  t.teardown(() => sockets.forEach((s) => s.close()));
  sockets.forEach((socket) => socket.connect(`tcp://127.0.0.1:${ports[1]}`));
  const random = lcg(91);
  const stepsBefore = jsonLines(join(fuzzed.out, 'metrics.jsonl')).length;
  for (let i = 0; i < FRAMES; i++) await sockets[i % SOCKETS].send(fuzzFrames(random, valid));
  const stepsDuring = jsonLines(join(fuzzed.out, 'metrics.jsonl')).length - stepsBefore;
  t.log(`sent ${FRAMES} messages to w1's peer endpoint; ${stepsDuring} steps completed meanwhile`);

  const exits = await Promise.all(
    [fuzzed, clean].flatMap((run) => [run.coordinator, ...run.workers].map((p) => p.exited)),
  );
  t.deepEqual(
    exits.map((e) => e.code),
    [0, 0, 0, 0, 0, 0],
    cluster.dumpLogs(),
  );
  const steps = jsonLines(join(fuzzed.out, 'metrics.jsonl'));
  t.is(steps.length, 40);
  t.true(
    steps.every((r) => r.workers === 2 && r.skipped === false),
    'every step ran on both workers',
  );
  const a = loadWeights(join(fuzzed.out, 'weights.ddpm'));
  const b = loadWeights(join(clean.out, 'weights.ddpm'));
  t.true(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer)), 'the parameters of the unfuzzed run');
  t.true(Buffer.from(a.ema.buffer).equals(Buffer.from(b.ema.buffer)));
  const log = jsonLines(fuzzed.workers[0].logPath).map((r) => String(r.msg));
  t.true(log.includes('rejected a malformed message from a peer'), 'the frame checks saw the fuzz');
  t.true(
    log.some((m) => /^dropped a peer message|^dropped a part/.test(m)),
    'forged messages that passed the frame checks were dropped',
  );
});
