import test from 'ava';
import { evaluationDue } from './step-boundaries.ts';

test('evaluations are due every N steps and at the last step, never with N = 0', (t) => {
  const due = (every: number, total: number): number[] =>
    Array.from({ length: total }, (_, i) => i + 1).filter((step) => evaluationDue(every, step, total));
  t.deepEqual(due(4, 10), [4, 8, 10]);
  t.deepEqual(due(5, 10), [5, 10]);
  t.deepEqual(due(0, 10), []);
  t.deepEqual(due(20, 10), [10]);
});
