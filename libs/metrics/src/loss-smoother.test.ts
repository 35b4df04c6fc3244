import test from 'ava';
import { LossSmoother } from './loss-smoother.ts';

/** Independent reference: the debiased EMA is a weighted mean with weights beta^(n-i). */
function weightedMean(values: readonly number[], beta: number): number {
  let num = 0;
  let den = 0;
  values.forEach((v, i) => {
    const w = beta ** (values.length - 1 - i);
    num += w * v;
    den += w;
  });
  return num / den;
}

test('known values: beta 0.5 over 1, 3 gives 7/3', (t) => {
  const s = new LossSmoother(0.5);
  t.is(s.update(1), 1);
  t.true(Math.abs(s.update(3) - 7 / 3) < 1e-12);
});

test('matches the weighted-mean form over a long noisy sequence', (t) => {
  const values = Array.from({ length: 300 }, (_, i) => 1 / (1 + i / 30) + 0.1 * Math.sin(i * 1.7));
  for (const beta of [0, 0.9, 0.98]) {
    const s = new LossSmoother(beta);
    let last = NaN;
    for (const v of values) last = s.update(v);
    t.true(Math.abs(last - weightedMean(values, beta)) < 1e-9, `beta ${beta}`);
  }
});

test('non-finite losses are ignored and NaN is reported before the first finite one', (t) => {
  const s = new LossSmoother(0.9);
  t.true(Number.isNaN(s.update(Number.NaN)));
  t.is(s.update(2), 2);
  t.is(s.update(Number.POSITIVE_INFINITY), 2);
});

test('beta outside [0, 1) is rejected with a hint', (t) => {
  t.throws(() => new LossSmoother(1), { message: /\[0, 1\).*0\.98/ });
});
