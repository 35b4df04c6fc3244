import test from 'ava';
import { EvalSeries, LOSS_SMOOTHING, LossSeries, decimatedIndices } from './run-series.mjs';

test('decimation keeps at most max points, spread over the run, always with the newest', (t) => {
  t.deepEqual(decimatedIndices(5, 10), [0, 1, 2, 3, 4]);
  const picked = decimatedIndices(100_001, 4000);
  t.true(picked.length <= 4000 && picked.length > 3500, `${picked.length} points`);
  t.is(picked[0], 0);
  t.is(picked[picked.length - 1], 100_000);
  t.throws(() => decimatedIndices(10, 1), { message: /max must be >= 2/ });
});

test('the loss series leaves out skipped and non-finite steps and smooths with the bias-corrected EMA', (t) => {
  const series = new LossSeries();
  series.add([
    { step: 1, loss: 1 },
    { step: 2, loss: null, skipped: true },
    { step: 3, loss: 0.5 },
    { step: 4, loss: 'NaN' },
  ]);
  const view = series.view(100);
  t.deepEqual(view.step, [1, 3]);
  t.deepEqual(view.loss, [1, 0.5]);
  t.is(view.smoothed[0], 1, 'bias correction: the first smoothed value is the first loss');
  const b = LOSS_SMOOTHING;
  const expected = (b * (1 - b) * 1 + (1 - b) * 0.5) / (1 - b * b);
  t.true(Math.abs(view.smoothed[1] - expected) < 1e-5, 'sent with 6 significant digits');
});

test('a long loss series is thinned for the page, the smoothed values computed over every step', (t) => {
  const series = new LossSeries();
  series.add(Array.from({ length: 20_000 }, (_, i) => ({ step: i + 1, loss: 2 })));
  const view = series.view(1000);
  t.is(view.steps, 20_000);
  t.true(view.step.length <= 1000);
  t.is(view.step[view.step.length - 1], 20_000);
  t.true(view.smoothed.every((x) => Math.abs(x - 2) < 1e-9));
  series.clear();
  t.is(series.length, 0);
});

test('the evaluation series keeps the contract fields of eval.jsonl and at most max evaluations', (t) => {
  const series = new EvalSeries(2);
  const line = { fd: 10, fd_floor: 1, fd_ratio: 10, count: 1000, confidence: 0.9, label_entropy: 2.2 };
  series.add([
    { step: 100, ...line, seconds: 4, time: '2026-12-04T16:00:00Z', extra: 'dropped' },
    { step: 200, ...line },
    { step: 300, fd: 'bad' },
    { step: 400, ...line, fd: 5 },
  ]);
  const { evaluations, points } = series.view();
  t.is(evaluations, 2);
  t.deepEqual(
    points.map((p) => [p.step, p.fd]),
    [
      [200, 10],
      [400, 5],
    ],
  );
  t.false('extra' in points[0]);
});

test('evaluations filed out of order (ddpm eval --record) are kept in step order; a step evaluated again is replaced', (t) => {
  const series = new EvalSeries();
  series.add([
    { step: 800, fd: 50 },
    { step: 400, fd: 100 },
    { step: 1200, fd: 40 },
  ]);
  series.add([
    { step: 600, fd: 70 },
    { step: 800, fd: 55 },
  ]);
  t.deepEqual(
    series.view().points.map((p) => [p.step, p.fd]),
    [
      [400, 100],
      [600, 70],
      [800, 55],
      [1200, 40],
    ],
  );
});
