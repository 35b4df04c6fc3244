import test from 'ava';
import { Phase } from '@ddpm/protocol';
import {
  AUTO_STEP_TIMEOUT,
  noteHandOff,
  overdueWorkers,
  StepDeadline,
  type StepTimeoutSetting,
} from './step-deadline.ts';

interface Case {
  readonly name: string;
  readonly setting: StepTimeoutSetting;
  /** Step times recorded before asking, in milliseconds. */
  readonly steps: readonly number[];
  /** Whether worker 1 has completed a step before. */
  readonly seasoned: boolean;
  readonly expectedMs: number;
  /** --heartbeat-timeout in milliseconds (default 0: no effect). */
  readonly heartbeatTimeoutMs?: number;
}

const repeat = (ms: number, n: number): number[] => Array.from({ length: n }, () => ms);

const cases: readonly Case[] = [
  { name: 'fixed seconds are used as given', setting: 2, steps: [], seasoned: true, expectedMs: 2000 },
  {
    name: "fixed, a worker's first step: 300 s",
    setting: 2,
    steps: repeat(100, 4),
    seasoned: false,
    expectedMs: 300_000,
  },
  { name: '0, a first step: still no deadline', setting: 0, steps: [], seasoned: false, expectedMs: 0 },
  { name: 'fixed, whatever the step times', setting: 1.5, steps: repeat(9000, 8), seasoned: true, expectedMs: 1500 },
  { name: '0 means no deadline', setting: 0, steps: repeat(100, 4), seasoned: true, expectedMs: 0 },
  {
    name: 'auto, nothing measured yet: the first-step floor',
    setting: 'auto',
    steps: [],
    seasoned: true,
    expectedMs: 300_000,
  },
  {
    name: "auto, a worker's first step: the first-step floor",
    setting: 'auto',
    steps: repeat(100, 32),
    seasoned: false,
    expectedMs: 300_000,
  },
  {
    name: 'auto, fast steps: the 30 s floor',
    setting: 'auto',
    steps: repeat(100, 32),
    seasoned: true,
    expectedMs: 30_000,
  },
  {
    name: 'auto, slow steps: 5 x the median',
    setting: 'auto',
    steps: repeat(10_000, 5),
    seasoned: true,
    expectedMs: 50_000,
  },
  {
    name: 'auto, the median ignores one huge outlier',
    setting: 'auto',
    steps: [...repeat(8000, 4), 1e9],
    seasoned: true,
    expectedMs: 40_000,
  },
  { name: 'auto, median of an even count', setting: 'auto', steps: [8000, 12_000], seasoned: true, expectedMs: 50_000 },
  {
    name: 'auto, only the last 32 steps count',
    setting: 'auto',
    steps: [...repeat(60_000, 40), ...repeat(7000, 32)],
    seasoned: true,
    expectedMs: 35_000,
  },
  {
    name: 'auto, a slow first step above the floor',
    setting: 'auto',
    steps: repeat(100_000, 3),
    seasoned: false,
    expectedMs: 500_000,
  },
];

/** With --heartbeat-timeout 30 s: auto never goes below 60 s, since a worker may compute 30 s without a sign of life. */
const withHeartbeat: readonly Case[] = [
  { name: 'fast steps: twice the heartbeat timeout', steps: repeat(100, 32), seasoned: true, expectedMs: 60_000 },
  { name: '5 x the median above it', steps: repeat(20_000, 3), seasoned: true, expectedMs: 100_000 },
  { name: 'a first step: 300 s', steps: [], seasoned: false, expectedMs: 300_000 },
].map((c) => ({ ...c, name: `auto, heartbeat timeout 30 s, ${c.name}`, setting: 'auto', heartbeatTimeoutMs: 30_000 }));

for (const c of [...cases, ...withHeartbeat]) {
  test(`step deadline: ${c.name}`, (t) => {
    const deadline = new StepDeadline(c.setting, c.heartbeatTimeoutMs);
    for (const ms of c.steps) deadline.recordStep(ms);
    if (c.seasoned) deadline.markSeasoned(1);
    t.is(deadline.timeoutMs(1), c.expectedMs);
  });
}

test('step deadline: a forgotten worker is treated as new again', (t) => {
  const deadline = new StepDeadline('auto');
  deadline.recordStep(100);
  deadline.markSeasoned(3);
  t.is(deadline.timeoutMs(3), AUTO_STEP_TIMEOUT.floorMs);
  deadline.forget(3);
  t.is(deadline.timeoutMs(3), AUTO_STEP_TIMEOUT.firstStepFloorMs);
});

test('step deadline: a bad setting is refused', (t) => {
  t.throws(() => new StepDeadline(-1), { instanceOf: RangeError });
  t.throws(() => new StepDeadline(Number.NaN), { instanceOf: RangeError });
});

interface OverdueCase {
  readonly name: string;
  readonly sentMs: number;
  readonly timeoutMs: number | undefined;
  readonly nowMs: number;
  readonly awaited: boolean;
  readonly overdue: boolean;
}

const overdueCases: readonly OverdueCase[] = [
  { name: 'within the deadline', sentMs: 1000, timeoutMs: 2000, nowMs: 2999, awaited: true, overdue: false },
  { name: 'exactly at the deadline', sentMs: 1000, timeoutMs: 2000, nowMs: 3000, awaited: true, overdue: false },
  { name: 'just after the deadline', sentMs: 1000, timeoutMs: 2000, nowMs: 3001, awaited: true, overdue: true },
  { name: 'no deadline (0)', sentMs: 0, timeoutMs: 0, nowMs: 1e12, awaited: true, overdue: false },
  { name: 'no deadline recorded', sentMs: 0, timeoutMs: undefined, nowMs: 1e12, awaited: true, overdue: false },
  { name: 'gradient complete: not awaited', sentMs: 0, timeoutMs: 10, nowMs: 1e6, awaited: false, overdue: false },
];

for (const c of overdueCases) {
  test(`overdue workers: ${c.name}`, (t) => {
    const awaited = new Set(c.awaited ? [7] : []);
    const timeoutMs = new Map(c.timeoutMs === undefined ? [] : [[7, c.timeoutMs]]);
    const overdue = overdueWorkers({ awaited, sentMs: new Map([[7, c.sentMs]]), timeoutMs }, c.nowMs);
    t.deepEqual(overdue, c.overdue ? [7] : []);
  });
}

test('overdue workers: a deadline counts again from when the coordinator was blocked', (t) => {
  const step = { awaited: new Set([7]), sentMs: new Map([[7, 0]]), timeoutMs: new Map([[7, 2000]]) };
  t.deepEqual(overdueWorkers(step, 2001), [7]);
  t.deepEqual(overdueWorkers({ ...step, deadlinesFromMs: 1500 }, 2001), []);
  t.deepEqual(overdueWorkers({ ...step, deadlinesFromMs: 1500 }, 3501), [7]);
});

test('overdue workers come in id order, each against its own deadline', (t) => {
  const step = {
    awaited: new Set([9, 2, 5]),
    sentMs: new Map([
      [9, 0],
      [2, 0],
      [5, 0],
    ]),
    timeoutMs: new Map([
      [9, 100],
      [2, 50],
      [5, 300_000],
    ]),
  };
  t.deepEqual(overdueWorkers(step, 101), [2, 9]);
});

test('sharded: only the workers that did not hand off all their parts are overdue; when all did, every awaited one', (t) => {
  const ids = [1, 2, 3];
  const step = {
    step: 4,
    awaited: new Set(ids),
    handedOff: new Set<number>(),
    sentMs: new Map(ids.map((id) => [id, 0])),
    timeoutMs: new Map(ids.map((id) => [id, 100])),
  };
  t.is(noteHandOff(step, 1, { step: 4, phase: Phase.WAITING }, 70), 70, 'its step time: StepStart sent at 0');
  t.is(noteHandOff(step, 1, { step: 4, phase: Phase.WAITING }, 80), undefined, 'timed once');
  t.is(noteHandOff(step, 2, { step: 3, phase: Phase.WAITING }, 70), undefined, 'an older step: not a hand-off');
  t.is(noteHandOff(step, 3, { step: 4, phase: Phase.IDLE }, 70), undefined, 'a liveness heartbeat');
  t.deepEqual(overdueWorkers(step, 101), [2, 3], 'worker 1 handed off; 2 and 3 hold the step up');
  noteHandOff(step, 2, { step: 4, phase: Phase.WAITING }, 90);
  noteHandOff(step, 3, { step: 4, phase: Phase.WAITING }, 90);
  t.deepEqual(overdueWorkers(step, 101), [1, 2, 3], 'all handed off: an owner does not reduce, and any may be it');
  const star = { step: 4, sentMs: step.sentMs, timeoutMs: step.timeoutMs, awaited: new Set(ids) };
  t.is(noteHandOff(star, 1, { step: 4, phase: Phase.WAITING }, 90), undefined);
  t.deepEqual(overdueWorkers(star, 101), [1, 2, 3], 'the star has no hand-offs: every awaited worker is overdue');
});
