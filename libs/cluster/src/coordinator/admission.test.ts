import test from 'ava';
import { decodeMessage, encodeMessage, ErrorCode, errorCodeName, type OutgoingEnvelope } from '@ddpm/protocol';
import { admit } from './admission.ts';
import type { Member } from './membership.ts';

function member(state: Member['state'] = 'active'): Member {
  return {
    id: 7,
    name: 'w7',
    identity: Buffer.from('w7'),
    backend: 'cpu',
    state,
    hasDataset: true,
    lastSeenMs: 0,
    lastSentMs: 0,
    lastSequence: 10,
  };
}

function message(envelope: OutgoingEnvelope): ReturnType<typeof decodeMessage> {
  return decodeMessage(encodeMessage(envelope));
}

const RUN = 'run-1';

test('the next sequence from the right worker and run is accepted and advances the counter', (t) => {
  const m = member();
  t.deepEqual(admit(m, message({ workerId: 7, runId: RUN, sequence: 11, heartbeat: {} }), RUN), {
    accepted: true,
    lost: 0,
  });
  t.is(m.lastSequence, 11);
});

test('a jump ahead is accepted and reports the messages lost', (t) => {
  const m = member();
  t.deepEqual(admit(m, message({ workerId: 7, runId: RUN, sequence: 14, heartbeat: {} }), RUN), {
    accepted: true,
    lost: 3,
  });
});

const refused = test.macro({
  exec(t, envelope: OutgoingEnvelope, code: ErrorCode, sequenceAfter: number, state: Member['state'] = 'active') {
    const m = member(state);
    const admission = admit(m, message(envelope), RUN);
    t.false(admission.accepted);
    if (!admission.accepted) t.is(admission.error.code, code);
    t.is(m.lastSequence, sequenceAfter);
  },
  title: (given, _envelope, code: ErrorCode) => `${given ?? ''} is refused with ${errorCodeName(code)}`,
});

test(
  'a replayed sequence',
  refused,
  { workerId: 7, runId: RUN, sequence: 10, heartbeat: {} },
  ErrorCode.BAD_MESSAGE,
  10,
);
test(
  'a sequence from behind (wrapped comparison)',
  refused,
  { workerId: 7, runId: RUN, sequence: 3, heartbeat: {} },
  ErrorCode.BAD_MESSAGE,
  10,
);
test(
  "another worker's id",
  refused,
  { workerId: 8, runId: RUN, sequence: 11, heartbeat: {} },
  ErrorCode.UNKNOWN_WORKER,
  11,
);
test(
  'another run',
  refused,
  { workerId: 7, runId: 'run-0', sequence: 11, gradient: { step: 1 } },
  ErrorCode.STALE_STATE,
  11,
);
test(
  'id 0 on a gradient from a welcomed worker',
  refused,
  { workerId: 0, sequence: 11, gradient: { step: 1 } },
  ErrorCode.UNKNOWN_WORKER,
  11,
);

test('id 0 is accepted from a worker not yet welcomed, and for heartbeats queued before its Welcome', (t) => {
  t.true(admit(member('pending'), message({ workerId: 0, sequence: 11, leave: {} }), RUN).accepted);
  t.true(admit(member('active'), message({ workerId: 0, sequence: 11, heartbeat: {} }), RUN).accepted);
});
