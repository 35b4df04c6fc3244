import test from 'ava';
import { ErrorCode, ErrorReason, Hello, PROTOCOL_VERSION, type BodyFields } from '@ddpm/protocol';
import { judgeHello, type HelloContext } from './hello-verdict.ts';
import { Membership } from './membership.ts';

const RUN = 'run-1';

function hello(fields: Partial<BodyFields<'hello'>> = {}): Hello {
  return Hello.create({ protocolVersion: PROTOCOL_VERSION, workerName: 'w1', backend: 'cpu', ...fields });
}

function context(members = new Membership(), overrides: Partial<HelloContext> = {}): HelloContext {
  return {
    runId: RUN,
    fingerprint: 'abc',
    maxWorkers: 2,
    heartbeatIntervalMs: 1000,
    members,
    nowMs: 10_000,
    ...overrides,
  };
}

const refusal = test.macro({
  exec(t, fields: Partial<BodyFields<'hello'>>, code: ErrorCode, fatal: boolean, reason: ErrorReason = 0) {
    const verdict = judgeHello(hello(fields), Buffer.from('new'), context());
    if (verdict.kind !== 'refuse') return t.fail(`expected a refusal, got ${verdict.kind}`);
    t.is(verdict.error.code, code);
    t.is(verdict.error.fatal, fatal);
    t.is(verdict.error.reason, reason);
  },
  title: (name = '') => `a Hello with ${name} is refused`,
});

test(
  'the wrong protocol version',
  refusal,
  { protocolVersion: PROTOCOL_VERSION + 1 },
  ErrorCode.VERSION_MISMATCH,
  true,
);
test('a name with a space', refusal, { workerName: 'a b' }, ErrorCode.BAD_MESSAGE, true, ErrorReason.BAD_WORKER_NAME);
test(
  'a 65-character name',
  refusal,
  { workerName: 'w'.repeat(65) },
  ErrorCode.BAD_MESSAGE,
  true,
  ErrorReason.BAD_WORKER_NAME,
);
test(
  'a 65-character backend',
  refusal,
  { backend: 'b'.repeat(65) },
  ErrorCode.BAD_MESSAGE,
  true,
  ErrorReason.BAD_WORKER_NAME,
);
test(
  'another dataset',
  refusal,
  { capabilities: { hasDataset: true, datasetFingerprint: 'xyz' } },
  ErrorCode.DATASET_MISMATCH,
  true,
);

test('a new connection registers; the same connection again is resynchronised instead', (t) => {
  const members = new Membership();
  const verdict = judgeHello(
    hello({ capabilities: { hasDataset: true, datasetFingerprint: 'abc' } }),
    Buffer.from('c1'),
    context(members),
  );
  t.deepEqual(verdict, { kind: 'register', name: 'w1', hasDataset: true, replaces: undefined });
  const member = members.add(Buffer.from('c1'), { name: 'w1', backend: 'cpu', hasDataset: true, sequence: 1 }, 10_000);
  t.deepEqual(judgeHello(hello(), Buffer.from('c1'), context(members)), { kind: 'resynchronise', member });
});

test('a full job refuses a newcomer for good and a rejoining worker only for now', (t) => {
  const members = new Membership();
  members.add(Buffer.from('c1'), { name: 'w1', backend: 'cpu', hasDataset: false, sequence: 1 }, 10_000);
  members.add(Buffer.from('c2'), { name: 'w2', backend: 'cpu', hasDataset: false, sequence: 1 }, 10_000);
  const newcomer = judgeHello(hello({ workerName: 'w3' }), Buffer.from('c3'), context(members));
  t.true(newcomer.kind === 'refuse' && newcomer.error.code === ErrorCode.RESOURCE_EXHAUSTED && newcomer.error.fatal);
  const rejoining = judgeHello(
    hello({ workerName: 'w3', resume: { runId: RUN, workerId: 99 } }),
    Buffer.from('c3'),
    context(members),
  );
  t.true(
    rejoining.kind === 'refuse' && rejoining.error.code === ErrorCode.RESOURCE_EXHAUSTED && !rejoining.error.fatal,
  );
});

test('a rejoining worker replaces its old connection only once that one went quiet, and only under the same name', (t) => {
  const members = new Membership();
  const old = members.add(Buffer.from('c1'), { name: 'w1', backend: 'cpu', hasDataset: false, sequence: 1 }, 10_000);
  members.add(Buffer.from('c2'), { name: 'w2', backend: 'cpu', hasDataset: false, sequence: 1 }, 10_000);
  const rejoin = (name: string, nowMs: number) =>
    judgeHello(
      hello({ workerName: name, resume: { runId: RUN, workerId: old.id } }),
      Buffer.from('c9'),
      context(members, { nowMs }),
    );
  const quiet = rejoin('w1', 12_000);
  t.true(
    quiet.kind === 'register' && quiet.replaces === old,
    'silent for two heartbeat intervals: replaced (and the full job has room again)',
  );
  t.is(rejoin('w1', 11_000).kind, 'refuse', 'still talking: not displaced, and the job is full');
  t.is(rejoin('intruder', 12_000).kind, 'refuse', 'another name never displaces it');
});
