import test from 'ava';
import type { DecodedMessage } from '@ddpm/protocol';
import { StepInFlight } from './step-in-flight.ts';

const message = (kind: string): DecodedMessage => ({ kind }) as unknown as DecodedMessage;

test('only an UpdateBucket is handled beside the step in flight; every other message waits for it', (t) => {
  t.true(StepInFlight.passes(message('updateBucket')));
  for (const kind of ['update', 'stepStart', 'welcome', 'shutdown', 'error'])
    t.false(StepInFlight.passes(message(kind)));
});

test('settled waits for the step, and a second step may start only after it', async (t) => {
  const inFlight = new StepInFlight();
  let finish!: () => void;
  let done = false;
  inFlight.start(
    new Promise<void>((resolve) => (finish = resolve)).then(() => (done = true)),
    async () => t.fail('no failure expected'),
  );
  t.throws(() => inFlight.start(Promise.resolve(), async () => undefined), { message: /still in flight/ });
  setTimeout(finish, 20);
  await inFlight.settled();
  t.true(done);
  t.notThrows(() => inFlight.start(Promise.resolve(), async () => undefined));
  await inFlight.settled();
});

test('a failed step is reported once, as it fails, and settled rethrows it', async (t) => {
  const inFlight = new StepInFlight();
  const reported: string[] = [];
  let reportedOnce!: () => void;
  const reportedPromise = new Promise<void>((resolve) => (reportedOnce = resolve));
  inFlight.start(Promise.reject(new Error('device lost')), async (error) => {
    reported.push(error.message);
    reportedOnce();
  });
  await reportedPromise; // without anyone calling settled()
  t.deepEqual(reported, ['device lost']);
  t.is(inFlight.failure?.message, 'device lost');
  await t.throwsAsync(inFlight.settled(), { message: 'device lost' });
  await t.throwsAsync(inFlight.settled(), { message: 'device lost' });
  t.deepEqual(reported, ['device lost']);
});
