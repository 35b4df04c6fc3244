import test from 'ava';
import { selectBackend } from '@ddpm/backend';
import { ErrorCode, parameterChecksum } from '@ddpm/protocol';
import type { CoordinatorAction } from './actions.ts';
import { describe, ScriptedWorker, testEngine } from './engine-harness.ts';

test.before(async () => {
  await selectBackend('cpu');
});

/** Two workers joined and the first step started; returns the engine, both workers and the clock. */
function started(overrides: Parameters<typeof testEngine>[0] = {}, run: Parameters<typeof testEngine>[1] = {}) {
  const { engine, clock } = testEngine(overrides, run);
  const [a, b] = [new ScriptedWorker(engine, 'a'), new ScriptedWorker(engine, 'b')];
  const first = a.hello();
  a.receive(first);
  b.receive(first);
  const second = b.hello();
  a.receive(second);
  b.receive(second);
  return { engine, clock, a, b, first, second, buckets: engine.state.description.layout.count };
}

const lines = (actions: readonly CoordinatorAction[]): string[] => actions.map(describe);

test('workers join at the boundary: a Welcome each, then StepStarts once --min-workers are in', (t) => {
  const { first, second } = started();
  t.deepEqual(lines(first), ['welcome→1'], 'one worker of two: welcomed, no step yet');
  t.deepEqual(lines(second), ['welcome→2', 'stepStart→1', 'stepStart→2']);
});

test('a bucket is proposed when both workers sent it; an unclipped step is confirmed and the next starts at once', (t) => {
  const { engine, a, b, buckets } = started();
  t.true(buckets >= 3, `${buckets} buckets`);
  const fromA = a.wholeGradient();
  t.deepEqual(lines(fromA), [], 'nothing completes while b has sent nothing');
  const last = buckets - 1;
  const afterFirst = b.gradient(last);
  t.deepEqual(lines(afterFirst), [`updateBucket→1 b${last}`, `updateBucket→2 b${last}`]);
  const rest: CoordinatorAction[] = [];
  for (let bucket = last - 1; bucket >= 0; bucket--) rest.push(...b.gradient(bucket));
  const tail = lines(rest).slice(-5);
  t.deepEqual(tail, ['update→1 BUCKETS', 'update→2 BUCKETS', 'stepStart→1', 'stepStart→2', 'record']);
  t.is(engine.step, 1);
  for (const worker of [a, b]) worker.receive([...afterFirst, ...rest]);
  t.is(a.start?.body.parameterChecksum, 0, 'an early StepStart carries no checksum');
  t.is(a.replica?.checksum(), b.replica?.checksum(), 'both replicas hold the same parameters');
  t.is(a.replica?.checksum(), parameterChecksum(engine.weights().params), "they hold the coordinator's parameters");
  t.deepEqual(lines(a.wholeGradient()), [], 'the next step accepts gradients on the adopted parameters');
});

test('a clipped step proposes nothing and sends the parameters whole', (t) => {
  const { a, b } = started();
  a.wholeGradient(1);
  const actions = b.wholeGradient(1);
  t.false(
    lines(actions).some((line) => line.startsWith('updateBucket')),
    'no proposal survives clipping',
  );
  t.deepEqual(lines(actions).slice(0, 2), ['update→1 PARAMETERS', 'update→2 PARAMETERS']);
  for (const worker of [a, b]) worker.receive(actions);
  t.is(a.replica?.checksum(), b.replica?.checksum());
});

test('a non-finite gradient skips the step for everyone', (t) => {
  const { engine, a, b } = started();
  a.wholeGradient(Number.NaN);
  const actions = b.wholeGradient();
  t.deepEqual(lines(actions).slice(0, 2), ['update→1 skipped', 'update→2 skipped']);
  t.is(engine.skippedSteps, 1);
});

test('a worker that leaves mid-step: the step completes with the other, whose buckets were all in', (t) => {
  const { engine, a, b } = started();
  const before = engine.step;
  a.wholeGradient();
  const actions = b.say({ leave: { reason: 'test' } });
  t.true(lines(actions).includes('update→1 BUCKETS'), lines(actions).join(', '));
  t.false(
    lines(actions).some((line) => line.endsWith('→2')),
    'nothing goes to the worker that left',
  );
  t.is(engine.step, before + 1);
  t.is(engine.members.active().length, 1);
});

test('a worker silent past the heartbeat timeout is dropped by the tick, and the step goes on', (t) => {
  const { engine, clock, a } = started();
  a.wholeGradient();
  const seen: string[] = [];
  for (clock.ms = 100; clock.ms <= 6000; clock.ms += 100) {
    if (clock.ms % 1000 === 0) a.say({ heartbeat: { step: 0 } });
    seen.push(...lines(engine.tick(100)).filter((line) => !line.startsWith('heartbeat')));
    if (clock.ms === 5000) t.deepEqual(seen, [], 'nobody is dropped within the timeout');
  }
  t.true(seen.includes('update→1 BUCKETS'), seen.join(', '));
  t.is(engine.members.all().length, 1);
});

const refused = test.macro({
  exec(t, send: (w: ReturnType<typeof started>) => CoordinatorAction[], expected: string[]) {
    const setup = started();
    const before = setup.engine.step;
    t.deepEqual(lines(send(setup)), expected);
    t.is(setup.engine.step, before, 'nothing changed');
  },
  title: (name = '') => `refused, answered and nothing changes: ${name}`,
});

test('a gradient for another step', refused, ({ a }) => a.gradient(0, 1e-5, { step: 5 }), [
  `error→1 ${ErrorCode.WRONG_STEP}`,
]);
test('a replayed sequence number', refused, ({ a }) => a.say({ heartbeat: {} }, [], 1), [
  `error→1 ${ErrorCode.BAD_MESSAGE}`,
]);
test('a message before Hello', refused, ({ engine }) => new ScriptedWorker(engine, 'c').say({ heartbeat: {} }), [
  `error→stranger ${ErrorCode.UNKNOWN_WORKER}`,
]);
test('a Gradient bucket sent twice', refused, ({ a }) => [...a.gradient(0), ...a.gradient(0)], [
  `error→1 ${ErrorCode.UNEXPECTED_MESSAGE}`,
]);
test('a message a worker never sends', refused, ({ a }) => a.say({ shutdown: {} }), [
  `error→1 ${ErrorCode.UNEXPECTED_MESSAGE}`,
]);

test('a gradient on other parameters: STALE_STATE, and the worker is welcomed again at the next boundary', (t) => {
  const { engine, a, b } = started();
  const stale = lines(a.gradient(0, 1e-5, { checksum: 12345 }));
  t.deepEqual(stale, [`error→1 ${ErrorCode.STALE_STATE}`]);
  t.is(engine.members.get(1)?.state, 'pending');
  const actions = lines(b.wholeGradient());
  t.true(actions.includes('welcome→1'), actions.join(', '));
  t.true(actions.includes('stepStart→1'));
});

test('stop: a checkpoint of the boundary, SHUTTING_DOWN to every worker, then stopped', (t) => {
  const { engine, a } = started({ checkpoints: { everySteps: 0, everySeconds: 0 } });
  a.wholeGradient();
  const actions = engine.stop('SIGTERM');
  t.deepEqual(lines(actions), [
    'checkpoint',
    `error→1 ${ErrorCode.SHUTTING_DOWN}`,
    `error→2 ${ErrorCode.SHUTTING_DOWN}`,
    'drain',
    'stopped',
  ]);
  const checkpoint = actions[0].kind === 'checkpoint' ? actions[0].checkpoint : undefined;
  t.is(checkpoint?.meta.step, 0, 'the step in progress is abandoned, not half-saved');
  t.deepEqual(engine.stop('SIGTERM'), [], 'a second stop does nothing');
});

test('the last step: its checkpoint, Shutdown to every worker, then finished', (t) => {
  const { engine, a, b } = started({ checkpoints: { everySteps: 0, everySeconds: 0 } }, { steps: 1 });
  a.wholeGradient();
  const actions = lines(b.wholeGradient()).filter((line) => !line.startsWith('updateBucket'));
  t.deepEqual(actions, [
    'update→1 BUCKETS',
    'update→2 BUCKETS',
    'record',
    'checkpoint',
    'shutdown→1',
    'shutdown→2',
    'drain',
    'finished',
  ]);
  t.is(engine.done, 'finished');
});

test('a grid is asked for at --sample-every with the settled EMA', (t) => {
  const { a, b } = started({}, { sampleEvery: 1 });
  a.wholeGradient();
  const actions = b.wholeGradient();
  t.true(lines(actions).includes('grid'));
  const order = lines(actions);
  t.true(order.indexOf('grid') < order.lastIndexOf('stepStart→1'), 'the grid is drawn before the next step starts');
});
