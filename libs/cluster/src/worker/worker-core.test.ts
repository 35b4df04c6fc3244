import test from 'ava';
import pino from 'pino';
import { selectBackend } from '@ddpm/backend';
import {
  decodeMessage,
  encodeMessage,
  ErrorCode,
  ErrorReason,
  parameterChecksum,
  toBfloat16,
  type DecodedMessage,
  type OutgoingBody,
  type TensorInput,
} from '@ddpm/protocol';
import { testEngine } from '../coordinator/engine-harness.ts';
import type { EngineOptions } from '../coordinator/coordinator-engine.ts';
import { SimulatedGradients, withFaults } from './simulated-gradients.ts';
import type { GradientSource } from './gradient-source.ts';
import { WorkerCore } from './worker-core.ts';

test.before(async () => {
  await selectBackend('cpu');
});

const log = pino({ level: 'silent' });

/** A WorkerCore whose link records what it sends, and a Welcome from a real engine (one worker, 16 KiB buckets). */
function setup(source: GradientSource = new SimulatedGradients(0), overrides: Partial<EngineOptions> = {}) {
  const sent: { body: OutgoingBody; tensors: readonly TensorInput[] }[] = [];
  const link = {
    send: (body: OutgoingBody, tensors: readonly TensorInput[] = []) => (
      sent.push({ body, tensors }),
      Promise.resolve()
    ),
  };
  const { engine } = testEngine({ minWorkers: 1, ...overrides });
  const core = new WorkerCore(
    { name: 'w', backend: 'cpu', dataset: undefined, limits: engine.state.description.limits, log },
    source,
    link,
  );
  let delivered = 0;
  /** The engine's answers to what the core sent since the last call, decoded as the core would receive them. */
  const deliver = (): DecodedMessage[] => {
    const { runId } = engine.state.description;
    const actions = sent.slice(delivered).flatMap(({ body, tensors }) => {
      delivered += 1;
      const envelope = { ...core.header('hello' in body), sequence: delivered, ...body };
      return engine.receive(Buffer.from('w'), decodeMessage(encodeMessage(envelope, tensors)));
    });
    return actions.flatMap((action) => {
      if (action.kind !== 'send') return [];
      const envelope = { workerId: action.to.id, sequence: 1, runId, ...action.message.body };
      return [decodeMessage(encodeMessage(envelope, action.message.tensors))];
    });
  };
  return { core, sent, deliver, engine };
}

const kinds = (sent: { body: OutgoingBody }[]): string[] => sent.map(({ body }) => Object.keys(body)[0]);

test('Hello is anonymous; the Welcome makes a replica and names the messages that follow', async (t) => {
  const { core, sent, deliver } = setup();
  await core.hello();
  t.deepEqual(core.header(false), { workerId: 0, runId: '' }, 'while joining');
  const [welcome, start] = deliver();
  t.deepEqual(await core.handle(welcome), { kind: 'joined' });
  t.is(core.header(false).workerId, 1);
  t.is(start.kind, 'stepStart');
  t.deepEqual(kinds(sent), ['hello']);
});

test('a StepStart sends every bucket of the gradient, last first, on the checksum of the replica', async (t) => {
  const { core, sent, deliver } = setup();
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  await core.handle(start);
  const gradients = sent
    .filter(({ body }) => 'gradient' in body)
    .map(({ body }) => ('gradient' in body ? body.gradient : undefined));
  const buckets = core.replica?.layout.count ?? 0;
  t.is(gradients.length, buckets);
  t.deepEqual(
    gradients.map((g) => g?.bucket),
    Array.from({ length: buckets }, (_, i) => buckets - 1 - i),
  );
  t.true(gradients.every((g) => g?.parameterChecksum === core.replica?.checksum() && g?.allFinite));
  t.is(core.steps, 1);
});

test('a StepStart on other parameters is answered STALE_STATE and nothing is computed', async (t) => {
  let computed = 0;
  const { core, sent, deliver } = setup({ compute: () => ((computed += 1), Promise.resolve()) });
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  const envelope = { ...start.envelope, sequence: 77 };
  const forged = { ...start, envelope, body: { ...start.body, parameterChecksum: 42 } } as DecodedMessage;
  await core.handle(forged);
  const last = sent[sent.length - 1].body;
  const error = 'error' in last ? last.error : undefined;
  t.is(error?.code, ErrorCode.STALE_STATE);
  t.is(error?.step, start.kind === 'stepStart' ? start.body.step : -1);
  t.is(error?.inReplyTo, 77, 'in_reply_to names the StepStart');
  t.is(error?.reason, ErrorReason.RESYNC_FOLLOWS);
  t.is(computed, 0);
});

test('an Update whose UpdateBuckets did not all arrive is answered STALE_STATE', async (t) => {
  const { core, sent, deliver } = setup();
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  await core.handle(start);
  const replies = deliver(); // the engine's answer to the buckets: UpdateBuckets, the Update, the next StepStart
  const update = replies.find((m) => m.kind === 'update');
  if (update === undefined) return t.fail('no Update');
  await core.handle(update); // no UpdateBucket was handed to the core
  const last = sent[sent.length - 1].body;
  t.is('error' in last ? last.error?.code : undefined, ErrorCode.STALE_STATE);
});

test('a fault source poisons one step: its first bucket goes out as non-finite, without a tensor', async (t) => {
  const { core, sent, deliver } = setup(withFaults(new SimulatedGradients(0), { nanStep: 0 }, log));
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  await core.handle(start);
  const first = sent.find(({ body }) => 'gradient' in body && body.gradient?.bucket === 0);
  t.false(first !== undefined && 'gradient' in first.body && first.body.gradient?.allFinite === true);
  t.deepEqual(first?.tensors, []);
});

test('UNKNOWN_WORKER is answered with a Hello; a fatal Error ends the worker with its text', async (t) => {
  const { core, sent } = setup();
  const error = (code: ErrorCode, fatal: boolean): DecodedMessage =>
    decodeMessage(encodeMessage({ workerId: 0, sequence: 1, runId: '', error: { code, message: 'x', fatal } }));
  await core.handle(error(ErrorCode.UNKNOWN_WORKER, false));
  t.deepEqual(kinds(sent), ['hello']);
  await t.throwsAsync(core.handle(error(ErrorCode.VERSION_MISMATCH, true)), { message: /refused this worker: x/ });
});

test('STALE_STATE/RESYNC_FOLLOWS waits for the Welcome; STALE_STATE from an old coordinator (no reason) or REJOIN says Hello', async (t) => {
  const { core, sent, deliver } = setup();
  await core.hello();
  const [welcome] = deliver();
  await core.handle(welcome);
  const stale = (reason: ErrorReason): DecodedMessage =>
    decodeMessage(
      encodeMessage({
        workerId: 1,
        sequence: 2,
        runId: 'r',
        error: { code: ErrorCode.STALE_STATE, message: 'x', reason },
      }),
    );
  const before = sent.length;
  await core.handle(stale(ErrorReason.RESYNC_FOLLOWS));
  t.deepEqual(kinds(sent.slice(before)), [], 'a Welcome follows: nothing to send');
  await core.handle(stale(ErrorReason.ERROR_REASON_UNSPECIFIED));
  t.deepEqual(kinds(sent.slice(before)), ['hello'], 'an old peer: Hello, as before the reason existed');
  core.joining = false;
  await core.handle(stale(ErrorReason.REJOIN));
  t.deepEqual(kinds(sent.slice(before)), ['hello', 'hello']);
});

test('the silent-step fault computes step k but sends none of its buckets; other steps are untouched', async (t) => {
  const { core, sent, deliver } = setup(withFaults(new SimulatedGradients(0), { silentStep: 0 }, log));
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  await core.handle(start);
  t.false(kinds(sent).includes('gradient'), kinds(sent).join(', '));
  t.is(core.steps, 1, 'the step was computed');
});

/** One step through the real engine with `wireDtype`; the gradient messages and the parameters after it. */
async function oneStep(wireDtype: 'float32' | 'bfloat16') {
  const { core, sent, deliver, engine } = setup(new SimulatedGradients(0), { wireDtype });
  await core.hello();
  const [welcome, start] = deliver();
  await core.handle(welcome);
  await core.handle(start);
  const gradients = sent.flatMap(({ body, tensors }) =>
    'gradient' in body && body.gradient ? [{ ...body.gradient, tensors }] : [],
  );
  const replies = deliver();
  for (const reply of replies) await core.handle(reply);
  const params = core.replica?.params.slice();
  // Step 1's gradients carry the replica's checksum; the engine settles step 0 and compares (STALE_STATE if apart).
  const refusals = deliver().filter((m) => m.kind === 'error');
  const errors = [...sent.filter(({ body }) => 'error' in body), ...refusals];
  const updateBuckets = replies.filter((m) => m.kind === 'updateBucket');
  return { core, engine, gradients, errors, params, updateBuckets };
}

test('--wire-dtype bfloat16: gradients and update deltas travel as bfloat16 (half the bytes), and replicas stay bitwise in sync', async (t) => {
  const half = await oneStep('bfloat16');
  const full = await oneStep('float32');
  const replica = half.core.replica;
  if (replica === undefined) return t.fail('no replica');
  t.is(half.gradients.length, replica.layout.count);
  for (const g of half.gradients) {
    const { start, end } = replica.layout.range(g.bucket ?? -1);
    const data = g.tensors[0]?.data;
    t.true(data instanceof Uint16Array, `bucket ${g.bucket} is bfloat16`);
    t.deepEqual(data, toBfloat16(replica.gradient.subarray(start, end)));
  }
  t.true(full.gradients.every((g) => g.tensors[0]?.data instanceof Float32Array));
  // The update comes back as bfloat16 deltas too (an unclipped step), and as float32 parameters without the flag.
  t.is(half.updateBuckets.length, replica.layout.count);
  t.true(
    half.updateBuckets.every(
      (m) => m.tensors.length === 1 && m.tensors[0].name === 'delta' && m.tensors[0].dtype === 'bfloat16',
    ),
  );
  t.true(full.updateBuckets.every((m) => m.tensors[0]?.name === 'parameters' && m.tensors[0].dtype === 'float32'));
  t.deepEqual([half.errors, full.errors], [[], []], 'no STALE_STATE: the Update applied on both replicas');
  t.is(replica.appliedStep, 0);
  const coordinator = half.engine.state.optimizer.params;
  t.is(
    parameterChecksum(replica.params),
    parameterChecksum(coordinator),
    "the worker holds the coordinator's parameters",
  );
  // The rounded gradient moved the parameters, slightly differently from the float32 one.
  const reference = full.engine.state.optimizer.params;
  let diff = 0;
  let moved = 0;
  const initial = half.engine.state.model.initialParameters(7);
  for (let i = 0; i < coordinator.length; i++) {
    diff = Math.max(diff, Math.abs(coordinator[i] - reference[i]));
    moved = Math.max(moved, Math.abs(reference[i] - initial[i]));
  }
  t.true(diff > 0, 'bfloat16 rounding changed the update');
  t.true(diff < 0.05 * moved, `bfloat16 changed the step by ${diff}, against a step of ${moved}`);
});
