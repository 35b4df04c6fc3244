import test from 'ava';
import { DEFAULT_OPTIMIZER } from './optimizer.ts';
import { OuterOptimizer } from './outer-optimizer.ts';

const OUTER = { syncEvery: 10, outerLr: 0.7, outerMomentum: 0.9 };
const NO_EMA = { ...DEFAULT_OPTIMIZER, emaDecay: 0.5 };

test('two outer steps give the known answer of Nesterov momentum: b = μb + Δ, θ = θ − η(Δ + μb)', (t) => {
  const outer = new OuterOptimizer(Float32Array.of(1, -2), NO_EMA, OUTER);
  outer.apply(Float32Array.of(0.1, 0.2), 0);
  // b = Δ = (0.1, 0.2); θ = θ − 0.7·(Δ + 0.9·Δ) = θ − 1.33·Δ
  t.deepEqual([...outer.params], [Math.fround(1 - 0.7 * (0.1 + 0.9 * 0.1)), Math.fround(-2 - 0.7 * (0.2 + 0.9 * 0.2))]);
  const first = [...outer.params];
  outer.apply(Float32Array.of(-0.1, 0.4), 1);
  // b = 0.9·(0.1, 0.2) + (−0.1, 0.4) = (−0.01, 0.58); θ −= 0.7·(Δ + 0.9·b)
  const b0 = 0.9 * Math.fround(0.1) + Math.fround(-0.1);
  const b1 = 0.9 * Math.fround(0.2) + Math.fround(0.4);
  const expected = [
    Math.fround(first[0] - 0.7 * (Math.fround(-0.1) + 0.9 * Math.fround(b0))),
    Math.fround(first[1] - 0.7 * (Math.fround(0.4) + 0.9 * Math.fround(b1))),
  ];
  t.true(Math.abs(b1 - 0.58) < 1e-6);
  t.true(Math.abs(expected[0] - outer.params[0]) <= 1e-6, `${expected[0]} against ${outer.params[0]}`);
  t.true(Math.abs(expected[1] - outer.params[1]) <= 1e-6, `${expected[1]} against ${outer.params[1]}`);
  t.is(outer.updates, 2);
});

test('momentum 0 and learning rate 1 make the outer step plain averaging: θ − Δ is the workers’ mean', (t) => {
  const outer = new OuterOptimizer(Float32Array.of(3, 4), NO_EMA, { ...OUTER, outerLr: 1, outerMomentum: 0 });
  outer.apply(Float32Array.of(0.5, -1), 0);
  t.deepEqual([...outer.params], [2.5, 5]);
});

test('proposing every bucket and adopting gives the same bits as committing in place, EMA included', (t) => {
  const start = Float32Array.from({ length: 7 }, (_, i) => Math.sin(i));
  const deltas = [0, 1, 2].map((k) => Float32Array.from({ length: 7 }, (_, i) => Math.cos(i * k + 1) / 100));
  const inPlace = new OuterOptimizer(start, DEFAULT_OPTIMIZER, OUTER);
  const proposed = new OuterOptimizer(start, DEFAULT_OPTIMIZER, OUTER);
  for (const [step, delta] of deltas.entries()) {
    inPlace.apply(delta, step);
    proposed.propose(delta.subarray(4), 4, step);
    proposed.propose(delta.subarray(0, 4), 0, step);
    const plan = proposed.plan(delta, step);
    t.is(plan.clipScale, 1, 'the outer step is never clipped');
    proposed.adopt(plan);
  }
  t.deepEqual(proposed.state(), inPlace.state());
  t.is(proposed.clipNorm, Number.POSITIVE_INFINITY);
});

test('a non-finite outer gradient is skipped and changes nothing', (t) => {
  const outer = new OuterOptimizer(Float32Array.of(1, 2), DEFAULT_OPTIMIZER, OUTER);
  const result = outer.apply(Float32Array.of(Number.NaN, 0), 0);
  t.true(result.skipped);
  t.deepEqual([...outer.params], [1, 2]);
  t.is(outer.updates, 0);
});

test('the state resumes exactly: momentum, count and EMA come back from OptimizerState', (t) => {
  const a = new OuterOptimizer(Float32Array.of(1, 2, 3), DEFAULT_OPTIMIZER, OUTER);
  a.apply(Float32Array.of(0.1, 0.1, -0.1), 0);
  const saved = a.state();
  t.is(saved.adam.v.length, 0, 'no second moment');
  t.is(saved.adam.count, 1);
  const b = new OuterOptimizer(Float32Array.of(9, 9, 9), DEFAULT_OPTIMIZER, OUTER, saved);
  a.apply(Float32Array.of(0.2, -0.3, 0.05), 1);
  b.apply(Float32Array.of(0.2, -0.3, 0.05), 1);
  t.deepEqual(b.state(), a.state());
});
