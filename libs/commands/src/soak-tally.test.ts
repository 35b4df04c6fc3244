import test from 'ava';
import { killSteps, percentiles, SoakTally } from './soak-tally.ts';

test('error and fatal records and unexpected exits are errors; warnings are counted by message', (t) => {
  const tally = new SoakTally();
  tally.logLine('coordinator', JSON.stringify({ level: 30, msg: 'step done' }));
  tally.logLine('coordinator', JSON.stringify({ level: 40, msg: 'worker bench-1 silent' }));
  tally.logLine('coordinator', JSON.stringify({ level: 40, msg: 'worker bench-1 silent' }));
  tally.logLine('bench-2#0', JSON.stringify({ level: 50, msg: 'send failed' }));
  tally.logLine('bench-3#0', JSON.stringify({ level: 60, msg: 'crashed' }));
  tally.logLine('coordinator', 'not json {');
  tally.logLine('coordinator', '{"level": 50, "msg": "cut');
  tally.exited('bench-4#0', 0, null);
  tally.exited('bench-5#0', 1, null);
  tally.exited('bench-6#0', null, 'SIGSEGV');
  t.deepEqual(tally.errors, [
    'bench-2#0: send failed',
    'bench-3#0: crashed',
    'bench-5#0: exited with status 1',
    'bench-6#0: exited with signal SIGSEGV',
  ]);
  t.deepEqual(tally.warningCounts(), { 'worker bench-1 silent': 2 });
});

test('percentiles are nearest-rank, and kills fall every n steps before the last', (t) => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  t.deepEqual(percentiles(values, [50, 90, 99, 100]), [50, 90, 99, 100]);
  t.deepEqual(percentiles([7], [0, 50, 100]), [7, 7, 7]);
  t.true(Number.isNaN(percentiles([], [50])[0]));
  t.deepEqual(killSteps(2000, 200), [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
  t.deepEqual(killSteps(30, 40), []);
});
