import test from 'ava';
import pino from 'pino';
import { TENSOR_NAMES, type TensorInput } from '@ddpm/protocol';
import { Adam, clipScale, DEFAULT_OPTIMIZER, globalNorm, learningRateAt } from '@ddpm/training';
import { ScriptedWorker, testEngine } from '../coordinator/engine-harness.ts';
import type { GradientJob, GradientSource } from './gradient-source.ts';
import { InnerSteps } from './inner-steps.ts';

const log = pino({ level: 'silent' });

/** A source that records what it was asked and answers a gradient that depends on the parameters it saw. */
class RecordingSource implements GradientSource {
  readonly calls: { step: number; indices: number[]; first: number; job: GradientJob }[] = [];
  async compute(job: GradientJob): Promise<void> {
    const { params, gradient, layout } = job.replica;
    this.calls.push({ step: job.start.body.step, indices: [...job.indices], first: params[0], job });
    for (let i = 0; i < gradient.length; i++) gradient[i] = Math.sin(i + params[i] * 100) / 10;
    for (let b = layout.count - 1; b >= 0; b--) job.onBucket(b, 0.5 + this.calls.length);
    return Promise.resolve();
  }
}

function startedWorker(syncEvery: number, checkpoints?: { everySteps: number; everySeconds: number }) {
  const lowCommunication = syncEvery > 1 ? { syncEvery, outerLr: 0.7, outerMomentum: 0.9 } : undefined;
  const { engine } = testEngine({ minWorkers: 1, checkpoints }, { lowCommunication });
  const worker = new ScriptedWorker(engine, 'w');
  worker.receive(worker.hello());
  const { replica, start } = worker;
  if (replica === undefined || start === undefined) throw new Error('no Welcome or StepStart');
  return { replica, start };
}

test('with H = 3 the source computes 3 contiguous local batches at the moving inner parameters; the outer gradient is start − end', async (t) => {
  const { replica, start } = startedWorker(3, { everySteps: 1, everySeconds: 0 });
  const before = replica.params.slice();
  const source = new RecordingSource();
  const reported: { bucket: number; loss: number; extra?: readonly TensorInput[] }[] = [];
  const indices = Uint32Array.from(start.body.indices);
  const onBucket = (bucket: number, loss: number, extra?: readonly TensorInput[]): void => {
    reported.push({ bucket, loss, extra });
  };
  await new InnerSteps(source, log).compute({ replica, start, indices, onBucket, timing: { dataMs: 0 } });
  t.deepEqual(
    source.calls.map((c) => c.indices),
    [0, 1, 2].map((h) => [...indices.subarray(3 * h, 3 * h + 3)]),
  );
  t.deepEqual(
    source.calls.map((c) => c.step),
    [0, 1, 2],
    'inner step keys s·H + h',
  );
  t.is(source.calls[0].first, before[0]);
  t.not(source.calls[1].first, before[0], 'the second inner step sees the first one’s update');
  t.deepEqual(replica.params, before, 'the replica’s parameters are the coordinator’s to change');
  // The reference: the same three Adam steps written out.
  const local = before.slice();
  const adam = new Adam(local.length, DEFAULT_OPTIMIZER.adam);
  for (let h = 0; h < 3; h++) {
    const g = local.map((p, i) => Math.sin(i + p * 100) / 10);
    const lr = learningRateAt(DEFAULT_OPTIMIZER.lr, DEFAULT_OPTIMIZER.warmup, h);
    adam.step(local, g, lr, clipScale(globalNorm(g), DEFAULT_OPTIMIZER.clip));
  }
  t.deepEqual(
    replica.gradient,
    before.map((p, i) => p - local[i]),
    'bitwise the reference',
  );
  t.is(reported.length, replica.layout.count, 'every bucket once');
  t.is(reported[0].loss, (1.5 + 2.5 + 3.5) / 3, 'the mean loss over the inner batches');
  const count = reported[0].extra?.find((x) => x.name === TENSOR_NAMES.innerCount)?.data;
  t.deepEqual([...(count ?? [])], [3, 0, 1], 'inner count, shard index, shard count');
});

test('with H = 1 (synchronous training) the job goes to the source unchanged', async (t) => {
  const { replica, start } = startedWorker(1);
  const source = new RecordingSource();
  const job = { replica, start, indices: Uint32Array.of(1, 2, 3), onBucket: () => undefined, timing: { dataMs: 0 } };
  await new InnerSteps(source, log).compute(job);
  t.is(source.calls.length, 1);
  t.is(source.calls[0].job, job);
});
