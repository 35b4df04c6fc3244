import test from 'ava';
import { GradientReducer } from './gradient-reducer.ts';

test('the reducer returns the sample-weighted mean of the gradients', (t) => {
  const reducer = new GradientReducer(3);
  reducer.add(Float32Array.of(1, 2, 3), 1);
  reducer.add(Float32Array.of(4, 5, 6), 3);
  t.is(reducer.totalSamples, 4);
  t.is(reducer.count, 2);
  t.deepEqual(Array.from(reducer.takeMean()), [13 / 4, 17 / 4, 21 / 4].map(Math.fround));
  t.is(reducer.count, 0, 'takeMean resets for the next step');
});

test('the mean does not depend on the order in which gradients arrive', (t) => {
  const gradients = Array.from({ length: 6 }, (_, k) => Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 0.37 + k) * 10 ** ((i % 7) - 3)));
  const samples = [3, 5, 7, 2, 8, 1];
  const reduce = (order: number[]): Float32Array => {
    const reducer = new GradientReducer(1000);
    for (const k of order) reducer.add(gradients[k], samples[k]);
    return reducer.takeMean().slice();
  };
  t.deepEqual(reduce([0, 1, 2, 3, 4, 5]), reduce([5, 3, 1, 4, 0, 2]));
});

test('a gradient of the wrong size is refused, and an empty step has no mean', (t) => {
  const reducer = new GradientReducer(2);
  t.throws(() => reducer.add(Float32Array.of(1), 1), { message: /1 values for 2 parameters/ });
  t.throws(() => reducer.takeMean(), { message: /no gradient/ });
});

const reportsFinite = test.macro({
  exec(t, values: number[], finite: boolean) {
    const reducer = new GradientReducer(values.length);
    t.true(reducer.add(Float32Array.from(values, () => 1), 1), 'an all-finite gradient reports true');
    t.is(reducer.add(Float32Array.from(values), 2), finite);
  },
  title: (_, values: number[], finite: boolean) => `add reports ${finite ? 'finite' : 'non-finite'} for [${values.join(', ')}]`,
});

test(reportsFinite, [1, -2, 3.4e38, -3.4e38, 0], true);
test(reportsFinite, [1, Number.NaN, 3], false);
test(reportsFinite, [Number.POSITIVE_INFINITY, 2], false);
test(reportsFinite, [0, 0, Number.NEGATIVE_INFINITY], false);
test(reportsFinite, [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], false);
