import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type RngState } from './random.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

function moments(values: ArrayLike<number>): { mean: number; variance: number; fourth: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i] - mean;
    m2 += d * d;
    m4 += d ** 4;
  }
  return { mean, variance: m2 / values.length, fourth: m4 / values.length };
}

test('the same seed gives the same sequence and nearby seeds give different ones', (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const draws = (r: Rng): number[] => Array.from({ length: 20 }, () => r.nextUint32());
  const fromA = draws(a);
  t.deepEqual(fromA, draws(b));
  t.notDeepEqual(fromA, draws(c));
  t.true(fromA.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32));
});

test('a saved state (also after a JSON round trip) resumes the exact sequence', (t) => {
  const rng = new Rng(7);
  for (let i = 0; i < 37; i++) rng.uniform();
  const saved: RngState = JSON.parse(JSON.stringify(rng.state())) as RngState;
  const expected = [rng.uniform(), rng.int(1000), ...rng.fillNormal(new Float64Array(5))];
  const resumed = Rng.fromState(saved);
  t.deepEqual([resumed.uniform(), resumed.int(1000), ...resumed.fillNormal(new Float64Array(5))], expected);
  const restoredInPlace = new Rng(999);
  restoredInPlace.setState(saved);
  t.is(restoredInPlace.uniform(), expected[0]);
});

test('setState refuses the all-zero state that xoshiro cannot leave', (t) => {
  t.throws(() => Rng.fromState({ words: [0, 0, 0, 0] }), { message: /all zeros/ });
});

test('uniform lies in [0, 1) with mean 1/2 and variance 1/12', (t) => {
  const rng = new Rng(1);
  const n = 100_000;
  const values = Float64Array.from({ length: n }, () => rng.uniform());
  t.true(values.every((u) => u >= 0 && u < 1));
  const { mean, variance } = moments(values);
  t.true(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  // Var of U² terms: E[(U−½)^4] − (1/12)² = 1/80 − 1/144.
  t.true(Math.abs(variance - 1 / 12) < 5 * Math.sqrt((1 / 80 - 1 / 144) / n), `variance ${variance}`);
});

test('fillNormal has the moments of N(0, 1) (mean 0, variance 1, fourth moment 3), odd lengths included', (t) => {
  const n = 100_001;
  const values = new Rng(2).fillNormal(new Float64Array(n));
  t.true(values.every(Number.isFinite));
  const { mean, variance, fourth } = moments(values);
  t.true(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
  t.true(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `variance ${variance}`);
  t.true(Math.abs(fourth - 3) < 5 * Math.sqrt(96 / n), `fourth moment ${fourth}`);
  t.not(values[n - 1], 0);
});

test('normal(shape) is a float32 tensor of that shape holding the same draws as fillNormal', (t) => {
  const tensor = new Rng(3).normal<tf.Tensor3D>([2, 3, 5]);
  t.deepEqual(tensor.shape, [2, 3, 5]);
  t.is(tensor.dtype, 'float32');
  t.deepEqual(Array.from(tensor.dataSync()), Array.from(new Rng(3).fillNormal(new Float32Array(30))));
  tensor.dispose();
});

test('int(n) is uniform over [0, n) and ints(count, n) draws count of them', (t) => {
  const rng = new Rng(4);
  const n = 7;
  const draws = rng.ints(70_000, n);
  t.is(draws.length, 70_000);
  const counts = new Array<number>(n).fill(0);
  for (const d of draws) counts[d]++;
  t.is(
    counts.reduce((a, b) => a + b, 0),
    draws.length,
  );
  const expected = draws.length / n;
  for (const c of counts) t.true(Math.abs(c - expected) < 5 * Math.sqrt(expected * (1 - 1 / n)), `count ${c}`);
  t.is(rng.int(1), 0);
  t.true(rng.int(2 ** 32) < 2 ** 32);
});

test('int rejects sizes that are not integers in [1, 2^32]', (t) => {
  const rng = new Rng(5);
  for (const bad of [0, -3, 1.5, 2 ** 32 + 1, Number.NaN]) t.throws(() => rng.int(bad), { instanceOf: RangeError });
});
