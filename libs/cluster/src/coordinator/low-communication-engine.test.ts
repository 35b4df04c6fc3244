import test from 'ava';
import { TENSOR_NAMES, type TensorInput } from '@ddpm/protocol';
import type { Checkpoint } from '@ddpm/training';
import type { CoordinatorAction } from './actions.ts';
import { ScriptedWorker, testEngine } from './engine-harness.ts';

const lowCommunication = { syncEvery: 3, outerLr: 0.7, outerMomentum: 0.9 };
const everyStep = { checkpoints: { everySteps: 1, everySeconds: 0 } };

/** Every bucket of an outer gradient of `value`, with the worker's inner state (m = v = `inner`, count) when asked. */
function sendDelta(worker: ScriptedWorker, value: number, inner: number, count: number): CoordinatorAction[] {
  const { replica, start } = worker;
  if (replica === undefined || start === undefined) throw new Error(`${worker.name} was not started`);
  const actions: CoordinatorAction[] = [];
  const ids = Int32Array.of(count, start.body.shardIndex, start.body.shardCount);
  for (let bucket = replica.layout.count - 1; bucket >= 0; bucket--) {
    const size = replica.layout.size(bucket);
    const tensors: TensorInput[] = [
      { name: TENSOR_NAMES.gradient, data: new Float32Array(size).fill(value), shape: [size] },
    ];
    if (start.body.innerStateWanted)
      tensors.push(
        ...[TENSOR_NAMES.innerM, TENSOR_NAMES.innerV].map((name) => ({
          ...{ name, data: new Float32Array(size).fill(inner), shape: [size] },
        })),
        { name: TENSOR_NAMES.innerCount, data: ids, shape: [3] },
      );
    const body = { step: start.body.step, samples: start.body.indices.length, loss: 0.5, bucket };
    const checks = { gradientNorm: 0, allFinite: true, parameterChecksum: replica.checksum() };
    actions.push(...worker.say({ gradient: { ...body, ...checks } }, tensors));
  }
  return actions;
}

function twoWorkers(engine: ReturnType<typeof testEngine>['engine']): ScriptedWorker[] {
  const workers = [new ScriptedWorker(engine, 'w1'), new ScriptedWorker(engine, 'w2')];
  const actions = workers.flatMap((w) => w.hello());
  for (const w of workers) w.receive(actions);
  return workers;
}

test('an outer step: H local batches per worker, the averaged deltas through Nesterov, inner states into the checkpoint', (t) => {
  const { engine } = testEngine(everyStep, { lowCommunication });
  const [w1, w2] = twoWorkers(engine);
  t.is(w1.replica?.syncEvery, 3, 'Welcome.sync_every');
  t.is(w1.replica?.hyper?.outerLearningRate, 0.7);
  t.is(w1.start?.body.indices.length, 9, 'H × --batch indices per StepStart');
  t.true(w1.start?.body.innerStateWanted, 'a checkpoint follows this step: the inner states are asked for');
  const before = Float32Array.from(engine.weights().params);
  const actions = [...sendDelta(w1, 0.01, 0.25, 3), ...sendDelta(w2, 0.03, 0.5, 6)];
  const delta = Math.fround((Math.fround(0.01) * 9 + Math.fround(0.03) * 9) / 18);
  const expected = before.map((p) => p - 0.7 * (delta + 0.9 * delta));
  const after = engine.weights().params;
  t.true(
    after.every((p, i) => Math.abs(p - expected[i]) <= 1e-7),
    'θ − η·(Δ + μ·Δ) on the first step',
  );
  for (const w of [w1, w2]) w.receive(actions);
  t.deepEqual(w1.replica?.params, after, 'the workers hold the coordinator’s parameters');
  const written = actions.find((a): a is Extract<CoordinatorAction, { kind: 'checkpoint' }> => a.kind === 'checkpoint');
  const inner = written?.checkpoint.inner;
  t.deepEqual(
    inner?.map((s) => [s.count, s.m[0], s.v[s.v.length - 1]]),
    [
      [3, 0.25, 0.25],
      [6, 0.5, 0.5],
    ],
    'shard 0 and shard 1, in shard order',
  );
});

test('after a resume each shard’s first StepStart hands its inner state back; a stop between collections writes none', (t) => {
  const first = testEngine(everyStep, { lowCommunication });
  const [a, b] = twoWorkers(first.engine);
  const actions = [...sendDelta(a, 0.01, 0.25, 3), ...sendDelta(b, 0.03, 0.5, 6)];
  const written = actions.find((x): x is Extract<CoordinatorAction, { kind: 'checkpoint' }> => x.kind === 'checkpoint');
  const checkpoint = written?.checkpoint as Checkpoint;
  const resume = { path: 'step-1.ckpt', checkpoint, rejected: [] };
  const { engine } = testEngine({ resume, checkpoints: { everySteps: 5, everySeconds: 0 } }, { lowCommunication });
  const [w1, w2] = twoWorkers(engine);
  for (const [w, value] of [
    [w1, 0.25],
    [w2, 0.5],
  ] as const) {
    const m = w.start?.tensors.find((x) => x.name === TENSOR_NAMES.innerM)?.data;
    t.is(m?.[0], value, `${w.name} gets its shard's inner moments`);
    t.false(w.start?.body.innerStateWanted, 'no checkpoint after step 1 with --checkpoint-every 5');
  }
  const next = [...sendDelta(w1, 0.01, 0, 0), ...sendDelta(w2, 0.01, 0, 0)];
  for (const w of [w1, w2]) w.receive(next);
  t.is(w1.start?.body.step, 2);
  t.false(
    w1.start?.tensors.some((x) => x.name === TENSOR_NAMES.innerM),
    'later StepStarts hand nothing back',
  );
  t.false(next.some((x) => x.kind === 'checkpoint'));
  t.false(
    engine.stop('SIGTERM').some((x) => x.kind === 'checkpoint'),
    'step 2 has no inner states: a stop writes no checkpoint that could not resume exactly',
  );
});
