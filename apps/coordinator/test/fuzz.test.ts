import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, type OutgoingEnvelope } from '@ddpm/protocol';
import { bucketStarts, loadWeights } from '@ddpm/training';
import { resolvePreset, UNet } from '@ddpm/unet';
import { DEFAULT_BUCKET_BYTES } from '@ddpm/cluster';
import {
  COORDINATOR_BIN,
  freePort,
  jsonLines,
  ProcessCluster,
  WORKER_BIN,
  type ClusterProcess,
} from './process-cluster.ts';
import { fuzzFrames, lcg } from './fuzz-frames.ts';

const FRAMES = 10_000;
const SOCKETS = 8;

/** Valid messages a fuzzer can build once it learned the run id from an Error reply: Hellos, forged gradients, ... */
function validMessages(runId: string, model: UNet): Buffer[][] {
  const envelope = (body: Partial<OutgoingEnvelope>, workerId = 1, sequence = 7): OutgoingEnvelope =>
    ({ workerId, sequence, runId, ...body }) as OutgoingEnvelope;
  // The last gradient bucket at the coordinator's default bucket size, as a worker sends it first.
  const starts = bucketStarts(model.parameterSizes(), DEFAULT_BUCKET_BYTES);
  const bucket = starts.length - 1;
  const gradient = Float32Array.from({ length: model.parameterCount() - starts[bucket] }, (_, i) => Math.sin(i) * 100);
  return [
    encodeMessage({
      workerId: 0,
      sequence: 1,
      runId: '',
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        workerName: 'fuzzer',
        backend: 'cpu',
        capabilities: { hasDataset: false },
      },
    }),
    encodeMessage({
      workerId: 0,
      sequence: 1,
      runId: '',
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        workerName: 'w1',
        backend: 'wasm',
        resume: { runId, workerId: 1, lastAppliedStep: 3, parameterChecksum: 1 },
      },
    }),
    ...[0, 1, 2, 3, 5, 8].map((step) =>
      encodeMessage(
        envelope({
          gradient: { step, samples: 2, loss: 0.5, gradientNorm: 1, allFinite: true, parameterChecksum: 0, bucket },
        }),
        [{ name: 'gradient', data: gradient, shape: [gradient.length] }],
      ),
    ),
    encodeMessage(
      envelope({ gradient: { step: 2, samples: 2, loss: Number.NaN, allFinite: false, nonFiniteCount: 1 } }),
    ),
    // What an owner sends in the sharded topology, forged: a reduced bucket naming the real worker as contributor.
    ...[1, 2, 4].map((step) =>
      encodeMessage(
        envelope({
          reducedGradient: {
            step,
            attempt: 0,
            bucket,
            contributions: [{ workerId: 1, samples: 2, loss: 0.5, allFinite: true, parameterChecksum: 0 }],
          },
        }),
        [{ name: 'gradient', data: gradient, shape: [gradient.length] }],
      ),
    ),
    encodeMessage(envelope({ heartbeat: { sentAtUnixMs: Date.now(), step: 1 } })),
    encodeMessage(envelope({ leave: { reason: 'forged', lastAppliedStep: 1 } })),
    encodeMessage(envelope({ error: { code: 9, message: 'forged stale', fatal: true } })),
    encodeMessage(envelope({ update: { step: 1, skipped: true } })),
    encodeMessage(envelope({ shutdown: { reason: 'forged', finalStep: 1, completed: true } })),
  ];
}

type Topology = 'star' | 'sharded';

function startRun(
  cluster: ProcessCluster,
  name: string,
  port: number,
  topology: Topology,
): { coordinator: ClusterProcess; worker: ClusterProcess; out: string } {
  const endpoint = `tcp://127.0.0.1:${port}`;
  const out = join(cluster.dir, name);
  const coordinator = cluster.start(`${name}-coordinator`, COORDINATOR_BIN, [
    '--preset',
    'mnist-tiny',
    '--steps',
    '30',
    '--batch',
    '2',
    '--seed',
    '21',
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
    '20',
    '--checkpoint-every',
    '0',
    '--bind',
    endpoint,
    '--min-workers',
    '1',
    '--max-workers',
    '1',
    '--no-metrics',
    '--topology',
    topology,
    '--out',
    out,
  ]);
  const worker = cluster.start(`${name}-worker`, WORKER_BIN, [
    '--connect',
    endpoint,
    '--name',
    'w1',
    '--backend',
    'wasm',
    '--dataset-limit',
    '20',
    '--no-metrics',
    ...(topology === 'sharded' ? ['--peer-endpoint', 'tcp://127.0.0.1:0'] : []),
  ]);
  return { coordinator, worker, out };
}

const fuzzedCoordinator = test.macro({
  async exec(t, topology: Topology) {
    const cluster = new ProcessCluster(t, 'ddpm-fuzz-');
    const [fuzzPort, cleanPort] = await Promise.all([freePort(), freePort()]);
    const fuzzed = startRun(cluster, 'fuzzed', fuzzPort, topology);
    const clean = startRun(cluster, 'clean', cleanPort, topology);
    await cluster.waitFor(
      'the fuzzed run training',
      () => jsonLines(join(fuzzed.out, 'metrics.jsonl')).length >= 1,
      90_000,
    );

    const sockets = Array.from(
      { length: SOCKETS },
      () => new Dealer({ linger: 0, sendTimeout: 2000, receiveTimeout: 5000, sendHighWaterMark: 2000 }),
    );
    t.teardown(() => sockets.forEach((s) => s.close()));
    const replies = new Map<string, number>();
    let runId = '';
    const readers = sockets.map(async (socket) => {
      socket.connect(`tcp://127.0.0.1:${fuzzPort}`);
      try {
        for await (const frames of socket) {
          const message = decodeMessage(frames);
          runId ||= message.envelope.runId;
          const key = message.kind === 'error' ? `error:${message.body.code}` : message.kind;
          replies.set(key, (replies.get(key) ?? 0) + 1);
        }
      } catch (error) {
        if ((error as { code?: string }).code !== 'EAGAIN') throw error;
      }
    });
    await sockets[0].send([randomBytes(5)]);
    await cluster.waitFor('the run id from an Error reply', () => runId !== '', 10_000);
    const valid = validMessages(runId, new UNet(resolvePreset('mnist-tiny')));
    const random = lcg(77);
    const stepsBefore = jsonLines(join(fuzzed.out, 'metrics.jsonl')).length;
    let sent = 0;
    let oversized = 0;
    const started = Date.now();
    for (let i = 0; i < FRAMES; i++) {
      const socket = sockets[i % SOCKETS];
      // A few frames beyond the coordinator's maxMessageSize: libzmq drops the connection, the DEALER reconnects.
      const frames = i % 2500 === 1249 ? [randomBytes(3 * 1024 * 1024)] : fuzzFrames(random, valid);
      if (frames.length === 1 && frames[0].length > 1024 * 1024) oversized += 1;
      await socket.send(frames);
      sent += 1;
    }
    const fuzzMs = Date.now() - started;
    await Promise.all(readers);
    const stepsDuring = jsonLines(join(fuzzed.out, 'metrics.jsonl')).length - stepsBefore;
    const answered = [...replies.values()].reduce((a, b) => a + b, 0);
    t.log(
      `sent ${sent} messages (${oversized} oversized) in ${fuzzMs} ms; ${answered} replies: ${JSON.stringify(Object.fromEntries(replies))}; ${stepsDuring} steps completed meanwhile`,
    );
    t.true(sent >= FRAMES);
    t.true(answered >= FRAMES / 2, 'most hostile messages got an Error reply');
    t.false(replies.has('welcome') || replies.has('stepStart'), 'no fuzzer connection was ever admitted');

    const [fc, fw, cc, cw] = await Promise.all([
      fuzzed.coordinator.exited,
      fuzzed.worker.exited,
      clean.coordinator.exited,
      clean.worker.exited,
    ]);
    t.deepEqual(
      [fc, fw, cc, cw].map((e) => e.code),
      [0, 0, 0, 0],
      cluster.dumpLogs(),
    );
    const a = loadWeights(join(fuzzed.out, 'weights.ddpm'));
    const b = loadWeights(join(clean.out, 'weights.ddpm'));
    t.is(a.meta.step, 30);
    t.true(
      Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer)),
      'the fuzzed run ends with exactly the parameters of the clean run',
    );
    t.true(Buffer.from(a.ema.buffer).equals(Buffer.from(b.ema.buffer)));
    t.false(jsonLines(fuzzed.coordinator.logPath).some((r) => r.msg === 'coordinator failed'));
  },
  title: (_, topology) =>
    `${topology}: ${FRAMES} random, mutated and replayed messages leave a live coordinator up, answering, and its parameters those of an unfuzzed run`,
});

for (const topology of ['star', 'sharded'] as const) test.serial(fuzzedCoordinator, topology);
