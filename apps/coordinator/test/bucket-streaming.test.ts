import test from 'ava';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import {
  decodeMessage,
  encodeMessage,
  parameterChecksum,
  PROTOCOL_VERSION,
  UpdateKind,
  type DecodedMessage,
  type OutgoingEnvelope,
} from '@ddpm/protocol';
import { BucketLayout, DEFAULT_OPTIMIZER, Optimizer } from '@ddpm/training';
import { COORDINATOR_BIN, freePort, ProcessCluster } from './process-cluster.ts';

/** A hand-driven worker: a DEALER that speaks the protocol message by message, so the test decides the timing. */
class ScriptedWorker {
  private sequence = 0;
  workerId = 0;
  runId = '';

  constructor(readonly dealer: Dealer) {}

  async send(
    body: Omit<OutgoingEnvelope, 'workerId' | 'sequence' | 'runId'>,
    tensors: Parameters<typeof encodeMessage>[1] = [],
  ): Promise<void> {
    this.sequence += 1;
    await this.dealer.send(
      encodeMessage(
        { workerId: this.workerId, sequence: this.sequence, runId: this.runId, ...body } as OutgoingEnvelope,
        tensors,
      ),
    );
  }

  /** The next message other than a Heartbeat; rejects (EAGAIN) when none comes within the receive timeout. */
  async next(): Promise<DecodedMessage> {
    for (;;) {
      const message = decodeMessage(await this.dealer.receive());
      if (message.kind !== 'heartbeat') return message;
    }
  }

  async expect<K extends DecodedMessage['kind']>(kind: K): Promise<Extract<DecodedMessage, { kind: K }>> {
    const message = await this.next();
    if (message.kind !== kind)
      throw new Error(
        `expected ${kind}, got ${message.kind}${message.kind === 'error' ? `: ${message.body.message}` : ''}`,
      );
    return message as Extract<DecodedMessage, { kind: K }>;
  }

  /** True when nothing but heartbeats arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    const saved = this.dealer.receiveTimeout;
    this.dealer.receiveTimeout = ms;
    try {
      await this.next();
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === 'EAGAIN') return true;
      throw error;
    } finally {
      this.dealer.receiveTimeout = saved;
    }
  }
}

test('buckets stream both ways: an UpdateBucket leaves as soon as every worker sent that bucket, and holds the exact Adam update', async (t) => {
  // --dataset-limit 3 and --batch 1: step 0 gives each worker a sample, step 1 (the epoch's last) only worker a, and b
  // gets the update without a StepStart; step 2 starts the next epoch with both again.
  const cluster = new ProcessCluster(t, 'ddpm-buckets-');
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  cluster.start('coordinator', COORDINATOR_BIN, [
    '--preset',
    'mnist-tiny',
    '--steps',
    '4',
    '--batch',
    '1',
    '--seed',
    '3',
    '--timesteps',
    '100',
    '--sample-every',
    '0',
    '--sample-count',
    '1',
    '--sample-steps',
    '1',
    '--backend',
    'cpu',
    '--dataset-limit',
    '3',
    '--checkpoint-every',
    '0',
    '--checkpoint-seconds',
    '0',
    '--bind',
    endpoint,
    '--min-workers',
    '2',
    '--heartbeat-interval',
    '5',
    '--heartbeat-timeout',
    '60',
    '--bucket-mb',
    '0.0625',
    '--lr',
    '0.001',
    '--warmup',
    '2',
    '--no-metrics',
    '--out',
    join(cluster.dir, 'run'),
  ]);
  const workers = ['a', 'b'].map((name) => {
    const dealer = new Dealer({ linger: 0, receiveTimeout: 30_000 });
    dealer.connect(endpoint);
    t.teardown(() => dealer.close());
    return { name, worker: new ScriptedWorker(dealer) };
  });
  const welcomes = [];
  for (const { name, worker } of workers) {
    await worker.send({
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        workerName: name,
        backend: 'cpu',
        capabilities: { hasDataset: false },
      },
    });
    const welcome = await worker.expect('welcome');
    worker.workerId = welcome.body.workerId;
    worker.runId = welcome.body.runId;
    welcomes.push(welcome);
  }
  const [a, b] = workers.map(({ worker }) => worker);
  const starts = welcomes[0].body.bucketStarts;
  const count = welcomes[0].body.model?.parameterCount ?? 0;
  t.true(starts.length >= 3, `mnist-tiny at --bucket-mb 0.0625 has ${starts.length} buckets`);
  const initial = welcomes[0].tensors[0].data as Float32Array;
  const hyper = welcomes[0].body.hyperParameters;
  const reference = new Optimizer(initial, {
    ...DEFAULT_OPTIMIZER,
    lr: hyper?.learningRate ?? 0,
    warmup: hyper?.warmupSteps ?? 0,
    clip: hyper?.gradientClipNorm ?? 0,
    emaDecay: hyper?.emaDecay ?? 0,
  });

  let checksum = welcomes[0].body.parameterChecksum;
  // Per step: the workers given samples, and the gradient size (1e-3 keeps the global norm under --clip 1, 1 puts it
  // far above). Worker a's gradient is sin, b's is cos.
  const steps = [
    { step: 0, senders: [a, b], size: 1e-3 },
    { step: 1, senders: [a], size: 1e-3 },
    { step: 2, senders: [a, b], size: 1 },
  ];
  for (const { step, senders, size } of steps) {
    for (const worker of senders) t.is((await worker.expect('stepStart')).body.step, step);
    const gradients = senders.map((_, w) =>
      Float32Array.from({ length: count }, (_, i) => (w === 0 ? Math.sin(i + step) : Math.cos(i + step)) * size),
    );
    const sendBucket = (worker: ScriptedWorker, gradient: Float32Array, bucket: number): Promise<void> => {
      const { start, end } = new BucketLayout(starts, count).range(bucket);
      const part = gradient.subarray(start, end);
      return worker.send(
        {
          gradient: {
            step,
            samples: 1,
            loss: 0.5,
            gradientNorm: 1,
            allFinite: true,
            parameterChecksum: checksum,
            bucket,
          },
        },
        [{ name: 'gradient', data: part, shape: [part.length] }],
      );
    };
    const last = starts.length - 1;
    const firsts: Float32Array[] = [];
    if (senders.length === 2) {
      for (let bucket = last; bucket >= 0; bucket--) await sendBucket(a, gradients[0], bucket);
      t.true(await a.silentFor(300), 'no UpdateBucket before every worker sent that bucket');
      await sendBucket(b, gradients[1], last);
      if (size < 1) {
        for (const worker of [a, b]) {
          const first = await worker.expect('updateBucket');
          t.deepEqual(
            [first.body.step, first.body.bucket],
            [step, last],
            'the completed bucket comes back while b has not sent the rest',
          );
          firsts.push(first.tensors[0].data as Float32Array);
        }
        t.true(await a.silentFor(300), 'the other buckets wait for b');
      } else {
        t.true(await a.silentFor(300), 'no proposal once the buckets so far put the norm above --clip');
      }
      for (let bucket = last - 1; bucket >= 0; bucket--) await sendBucket(b, gradients[1], bucket);
    } else {
      for (let bucket = last; bucket >= 0; bucket--) await sendBucket(a, gradients[0], bucket);
    }

    // The coordinator's reducer: float64 sums of samples·gradient, times 1/Σsamples, stored as float32.
    const mean = Float32Array.from(gradients[0], (value, i) =>
      gradients.length === 2 ? (value + gradients[1][i]) * 0.5 : value,
    );
    const plan = reference.apply(mean, step);
    for (const [w, worker] of [a, b].entries()) {
      const assembled = new Float32Array(count);
      const received = new Set<number>();
      if (firsts[w] !== undefined) {
        assembled.set(firsts[w], new BucketLayout(starts, count).range(last).start);
        received.add(last);
      }
      for (;;) {
        const message = await worker.next();
        if (message.kind === 'updateBucket') {
          t.is(message.body.step, step);
          assembled.set(
            message.tensors[0].data as Float32Array,
            new BucketLayout(starts, count).range(message.body.bucket).start,
          );
          received.add(message.body.bucket);
          continue;
        }
        t.is(message.kind, 'update', `worker ${w} at step ${step}`);
        if (message.kind !== 'update') break;
        if (plan.clipScale === 1) {
          t.is(
            received.size,
            starts.length,
            'every bucket arrived before the Update, also at the worker given no samples',
          );
          t.true(step < 2);
          t.is(message.body.kind, UpdateKind.BUCKETS);
          t.deepEqual(assembled, reference.params, 'the UpdateBuckets are the Adam update, bit for bit');
        } else {
          t.is(step, 2);
          t.is(received.size, 0, 'a step certain to be clipped proposes nothing');
          t.is(message.body.kind, UpdateKind.PARAMETERS, 'a clipped step sends the parameters whole');
          t.deepEqual(message.tensors[0].data as Float32Array, reference.params);
        }
        break;
      }
    }
    checksum = parameterChecksum(reference.params);
  }
  const third = await a.expect('stepStart');
  t.is(
    third.body.parameterChecksum,
    checksum,
    'after a clipped step the StepStart carries the checksum of the clipped update',
  );
});
