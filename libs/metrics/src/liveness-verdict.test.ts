import test from 'ava';
import { livenessVerdict, type LivenessState } from './liveness-verdict.mjs';

const MIN = 60_000;
const state = (change: Partial<LivenessState> = {}): LivenessState => ({
  active: true,
  activeWorkers: 2,
  step: 120,
  lastProgressAtMs: 0,
  ...change,
});

test('healthy while progress is newer than the stall timeout', (t) => {
  const verdict = livenessVerdict(state(), 14 * MIN, 15 * MIN);
  t.deepEqual([verdict.healthy, verdict.status], [true, 200]);
  t.regex(verdict.message, /^ok: step 120, last progress 840 s ago, 2 workers connected$/);
});

test('unhealthy (503) once no step completed for longer than the stall timeout while workers are connected', (t) => {
  const verdict = livenessVerdict(state(), 15 * MIN + 1000, 15 * MIN);
  t.deepEqual([verdict.healthy, verdict.status], [false, 503]);
  t.regex(verdict.message, /^stalled: no step completed for 901 s \(--stall-timeout 900\) while 2 workers/);
  t.regex(verdict.message, /step 120/);
  t.regex(verdict.message, /check the coordinator's log/);
});

test('the boundary itself is still healthy', (t) => {
  t.true(livenessVerdict(state(), 15 * MIN, 15 * MIN).healthy);
});

test('healthy however long it waits when no workers are connected', (t) => {
  const verdict = livenessVerdict(state({ active: false, activeWorkers: 0, step: 0 }), 600 * MIN, 15 * MIN);
  t.true(verdict.healthy);
  t.regex(verdict.message, /no workers connected, waiting \(no step yet\)/);
});

test('healthy when nothing was published yet or the check is off (0)', (t) => {
  t.true(livenessVerdict(undefined, 600 * MIN, 15 * MIN).healthy);
  t.true(livenessVerdict(state(), 600 * MIN, 0).healthy);
});
