import test from 'ava';
import { StragglerDetector } from './straggler-detector.ts';

test('a worker persistently slower than factor × the others is flagged after `patience` steps and cleared when it recovers', (t) => {
  const detector = new StragglerDetector(2, 5, 3);
  const flags: boolean[] = [];
  const changes: number[] = [];
  const times = [...Array(6).fill(500), ...Array(8).fill(100)];
  times.forEach((slow, step) => {
    detector.record(1, 100);
    detector.record(2, 110);
    detector.record(3, slow);
    const verdict = detector.evaluate([1, 2, 3]).find((v) => v.id === 3);
    flags.push(verdict?.straggler ?? false);
    if (verdict?.changed) changes.push(step);
  });
  t.deepEqual(flags.slice(0, 6), [false, false, true, true, true, true], 'flagged at the third slow step');
  t.true(
    flags.slice(-3).every((f) => !f),
    'cleared once its median is back to normal',
  );
  t.is(changes.length, 2, 'one report when flagged, one when cleared');
});

test('noise below the factor and a single worker never flag anybody', (t) => {
  const detector = new StragglerDetector(2);
  for (let step = 0; step < 20; step++) {
    detector.record(1, 100 + (step % 3) * 40);
    detector.record(2, 180 - (step % 2) * 50);
    t.true(detector.evaluate([1, 2]).every((v) => !v.straggler));
  }
  const alone = new StragglerDetector(2);
  alone.record(7, 1e6);
  t.deepEqual(alone.evaluate([7]), []);
  t.throws(() => new StragglerDetector(1), { message: /factor must be > 1/ });
});

test('with two workers the slow one is compared with the other, not with a median that contains itself', (t) => {
  const detector = new StragglerDetector(1.5, 3, 1);
  detector.record(1, 100);
  detector.record(2, 400);
  const verdicts = detector.evaluate([1, 2]);
  t.deepEqual(
    verdicts.map((v) => [v.id, v.straggler, v.othersMs]),
    [
      [1, false, 400],
      [2, true, 100],
    ],
  );
});
