import test from 'ava';
import { selectBackend } from '@ddpm/backend';
import { ErrorCode, ErrorReason, TENSOR_NAMES, type BodyFields } from '@ddpm/protocol';
import type { CoordinatorAction } from './actions.ts';
import { describe, ScriptedWorker, testEngine } from './engine-harness.ts';

test.before(async () => {
  await selectBackend('cpu');
});

/**
 * Two workers joined and the first step started. They say Hello with `resume` (from an earlier run), as workers that
 * already built their model: a worker's first step would otherwise get at least 300 s whatever the setting.
 */
function started(stepTimeout?: number) {
  const { engine, clock } = testEngine(stepTimeout === undefined ? {} : { stepTimeout });
  const [a, b] = [new ScriptedWorker(engine, 'a'), new ScriptedWorker(engine, 'b')];
  const rejoin = (w: ScriptedWorker) =>
    w.say({
      hello: {
        ...{ protocolVersion: 1, workerName: w.name, backend: 'cpu', capabilities: {} },
        resume: { runId: 'an-earlier-run', workerId: 9, lastAppliedStep: 0, parameterChecksum: 1 },
      },
    });
  const first = rejoin(a);
  for (const w of [a, b]) w.receive(first);
  const second = rejoin(b);
  for (const w of [a, b]) w.receive(second);
  return { engine, clock, a, b, buckets: engine.state.description.layout.count };
}

const lines = (actions: readonly CoordinatorAction[]): string[] =>
  actions.map(describe).filter((line) => !line.startsWith('heartbeat'));

/** The Error bodies among `actions`. */
function errors(actions: readonly CoordinatorAction[]): BodyFields<'error'>[] {
  return actions.flatMap((action) =>
    action.kind === 'send' || action.kind === 'reply'
      ? action.message.body.error === undefined
        ? []
        : [action.message.body.error]
      : [],
  );
}

/** Ticks every 100 ms up to `untilMs`, worker `alive` heartbeating every second; returns what happened, with times. */
function run(setup: ReturnType<typeof started>, untilMs: number, alive: ScriptedWorker) {
  const seen: { ms: number; actions: CoordinatorAction[] }[] = [];
  for (setup.clock.ms += 100; setup.clock.ms <= untilMs; setup.clock.ms += 100) {
    if (setup.clock.ms % 1000 === 0) alive.say({ heartbeat: { step: 0 } });
    seen.push({ ms: setup.clock.ms, actions: setup.engine.tick(100) });
  }
  return seen;
}

test('StepStart.timeout_ms carries --step-timeout, and auto gives a first step 300 s', (t) => {
  t.is(started(2).a.start?.body.timeoutMs, 2000);
  t.is(started().a.start?.body.timeoutMs, 300_000);
  t.is(started(0).a.start?.body.timeoutMs, 0);
  const { engine } = testEngine({ stepTimeout: 2 });
  const [fresh, other] = [new ScriptedWorker(engine, 'fresh'), new ScriptedWorker(engine, 'other')];
  fresh.receive(fresh.hello());
  fresh.receive(other.hello());
  t.is(fresh.start?.body.timeoutMs, 300_000, "a new worker's first step (model build) gets 300 s even with 2 s");
});

test('a worker that heartbeats but never sends its gradient is dropped at the deadline, told so, and the step completes', (t) => {
  const setup = started(2);
  const { engine, a, b } = setup;
  a.wholeGradient();
  const seen = run(setup, 4000, b);
  const before = seen.filter((s) => s.ms <= 2000).flatMap((s) => lines(s.actions));
  t.deepEqual(before, [], 'nothing happens within the deadline');
  const at = seen.find((s) => lines(s.actions).includes('update→1 BUCKETS'));
  t.truthy(at, 'the step completed');
  t.true((at?.ms ?? Infinity) <= 2100, `completed at ${at?.ms} ms, deadline 2000 ms, tick 100 ms`);
  const [error] = errors(at?.actions ?? []);
  t.like(error, { code: ErrorCode.TIMEOUT, reason: ErrorReason.STEP_DEADLINE_MISSED, step: 0, fatal: false });
  t.regex(error?.message ?? '', /--step-timeout/);
  t.false(
    lines(at?.actions ?? []).some((line) => line.startsWith('update→2')),
    'b gets no Update',
  );
  t.is(engine.members.get(2), undefined, 'b is dropped');
  t.is(engine.step, 1);
  t.false(
    seen.some((s) => lines(s.actions).some((line) => line.startsWith('error→1'))),
    'the worker that delivered is never told off',
  );
});

test('the dropped worker rejoins through STALE_STATE/REJOIN and a Hello with resume', (t) => {
  const setup = started(2);
  const { engine, a, b } = setup;
  a.wholeGradient();
  run(setup, 2200, b);
  const [stale] = errors(b.say({ heartbeat: {} }));
  t.like(stale, { code: ErrorCode.STALE_STATE, reason: ErrorReason.REJOIN, fatal: false });
  const { workerId, runId } = b.replica ?? { workerId: 0, runId: '' };
  const rejoin = b.say({
    hello: { protocolVersion: 1, workerName: 'b', backend: 'cpu', capabilities: {}, resume: { runId, workerId } },
  });
  t.deepEqual(lines(rejoin), ['welcome→3', 'stepStart→1', 'stepStart→3'], 'welcomed at once: a alone was waiting');
  t.is(engine.members.active().length, 2);
});

/** Sends bucket `bucket` of `worker`'s gradient with a frame one float short: refused with TENSOR_MISMATCH. */
function brokenBucket(worker: ScriptedWorker, bucket: number): CoordinatorAction[] {
  const start = worker.start?.body;
  const size = (worker.replica?.layout.size(bucket) ?? 1) - 1;
  const data = new Float32Array(size);
  const gradient = {
    ...{ step: start?.step, samples: start?.indices.length, loss: 0.5, bucket, allFinite: true },
    parameterChecksum: worker.replica?.checksum(),
  };
  return worker.say({ gradient }, [{ name: TENSOR_NAMES.gradient, data, shape: [size] }]);
}

test('a refused bucket that is never resent is covered by the same deadline', (t) => {
  const setup = started(2);
  const { engine, a, b, buckets } = setup;
  a.wholeGradient();
  for (let bucket = buckets - 1; bucket >= 1; bucket--) b.gradient(bucket);
  t.like(errors(brokenBucket(b, 0))[0], { code: ErrorCode.TENSOR_MISMATCH, step: 0 });
  const seen = run(setup, 3000, b).flatMap((s) => s.actions);
  t.like(errors(seen)[0], { code: ErrorCode.TIMEOUT, reason: ErrorReason.STEP_DEADLINE_MISSED });
  t.regex(errors(seen)[0]?.message ?? '', new RegExp(`${buckets - 1} of ${buckets} gradient buckets`));
  t.is(engine.members.get(2), undefined);
  t.is(engine.step, 1);
});

test('a refused bucket resent before the deadline counts: both workers contribute', (t) => {
  const setup = started(2);
  const { engine, a, b, buckets } = setup;
  a.wholeGradient();
  for (let bucket = buckets - 1; bucket >= 1; bucket--) b.gradient(bucket);
  brokenBucket(b, 0);
  setup.clock.ms = 1500;
  const actions = b.gradient(0);
  const update = actions.find((x) => x.kind === 'send' && x.message.body.update !== undefined);
  t.is(update?.kind === 'send' ? update.message.body.update?.contributors : undefined, 2);
  t.deepEqual(errors(run(setup, 3400, b).flatMap((s) => s.actions)), [], 'nobody is dropped within the next deadline');
  t.is(engine.members.active().length, 2);
});

test("the coordinator's own pause (a grid, a checkpoint) restarts the step's deadlines", (t) => {
  const setup = started(2);
  const { engine, clock, a, b } = setup;
  a.wholeGradient();
  clock.ms = 1900;
  engine.forgive(); // the shell was blocked until now
  engine.tick(100); // the late tick of the blocked shell (it forgives as well)
  const seen = run(setup, 3800, b).flatMap((s) => s.actions);
  t.deepEqual(errors(seen), [], 'not dropped 2 s after the StepStart');
  const later = run(setup, 4000, b).flatMap((s) => s.actions);
  t.like(errors(later)[0], { code: ErrorCode.TIMEOUT, reason: ErrorReason.STEP_DEADLINE_MISSED });
});

test('errors name the message they answer (in_reply_to) and the step: WRONG_STEP names the refused step', (t) => {
  const { a } = started(2);
  const [wrong] = errors(a.gradient(0, 1e-5, { step: 5 }));
  t.like(wrong, { code: ErrorCode.WRONG_STEP, step: 5, fatal: false });
  t.true((wrong?.inReplyTo ?? 0) > 0);
  const [replay] = errors(a.say({ heartbeat: {} }, [], 1));
  t.like(replay, { code: ErrorCode.BAD_MESSAGE, inReplyTo: 1 });
});
