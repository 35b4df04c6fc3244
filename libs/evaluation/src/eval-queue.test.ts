import test from 'ava';
import { EvalQueue, formatEvalLine } from './eval-queue.ts';

test('one evaluation runs; of the waiting ones only the newest is kept, the others are counted as dropped', (t) => {
  const queue = new EvalQueue<string>();
  t.false(queue.busy);
  t.is(queue.submit(100, 'a'), 'run');
  t.is(queue.submit(200, 'b'), 'waits');
  t.is(queue.submit(300, 'c'), 'waits');
  t.deepEqual(queue.dropped, [200]);
  t.deepEqual(queue.finished(), { step: 300, item: 'c' });
  t.true(queue.busy);
  t.is(queue.submit(400, 'd'), 'waits');
  t.deepEqual(queue.finished(), { step: 400, item: 'd' });
  t.is(queue.finished(), undefined);
  t.false(queue.busy);
  t.is(queue.submit(500, 'e'), 'run');
});

test('an eval.jsonl line has the contract keys in order; an infinite ratio is null', (t) => {
  const line = formatEvalLine({
    step: 10,
    fd: 4,
    fd_floor: 0,
    fd_ratio: Number.POSITIVE_INFINITY,
    count: 100,
    confidence: 0.9,
    label_entropy: 2.2,
    seconds: 3.5,
    time: '2026-12-04T16:00:00.000Z',
  });
  t.true(line.endsWith('\n'));
  const parsed = JSON.parse(line) as Record<string, unknown>;
  t.deepEqual(Object.keys(parsed), [
    'step',
    'fd',
    'fd_floor',
    'fd_ratio',
    'count',
    'confidence',
    'label_entropy',
    'seconds',
    'time',
  ]);
  t.is(parsed.fd_ratio, null);
});
