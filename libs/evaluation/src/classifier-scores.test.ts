import test from 'ava';
import { classifierScores } from './classifier-scores.ts';

test('uniformly spread confident labels: confidence 1, entropy ln(classes)', (t) => {
  const probabilities = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const scores = classifierScores(probabilities, 3, 3);
  t.is(scores.confidence, 1);
  t.true(Math.abs(scores.labelEntropy - Math.log(3)) < 1e-12);
  t.deepEqual(scores.labelCounts, [1, 1, 1]);
});

test('every image the same label: entropy 0 however confident', (t) => {
  const scores = classifierScores([0.6, 0.4, 0.9, 0.1], 2, 2);
  t.is(scores.labelEntropy, 0);
  t.true(Math.abs(scores.confidence - 0.75) < 1e-12);
});

test('by hand: labels 0, 0, 1, 2 give entropy -(½ ln ½ + 2 · ¼ ln ¼) = 1.5 ln 2', (t) => {
  const rows = [
    [0.5, 0.3, 0.2],
    [0.7, 0.2, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.2, 0.6],
  ];
  const scores = classifierScores(rows.flat(), 4, 3);
  t.true(Math.abs(scores.labelEntropy - 1.5 * Math.log(2)) < 1e-12, `${scores.labelEntropy}`);
  t.true(Math.abs(scores.confidence - (0.5 + 0.7 + 0.8 + 0.6) / 4) < 1e-12);
});

test('a length mismatch names the counts', (t) => {
  t.throws(() => classifierScores([1, 0, 0], 2, 2), { message: /3 probabilities for 2 images of 2 classes/ });
});
