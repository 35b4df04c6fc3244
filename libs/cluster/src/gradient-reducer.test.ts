import test from 'ava';
import { BucketLayout } from '@ddpm/training';
import { GradientReducer } from './gradient-reducer.ts';

/** Adds whole gradients bucket by bucket, as workers send them. */
function addWhole(reducer: GradientReducer, gradient: Float32Array, samples: number): boolean {
  let finite = true;
  for (let b = 0; b < reducer.buckets; b++) {
    const { start, end } = reducer.layout.range(b);
    finite = reducer.add(b, gradient.subarray(start, end), samples) && finite;
  }
  return finite;
}

function meanOfAll(reducer: GradientReducer): Float32Array {
  for (let b = 0; b < reducer.buckets; b++) reducer.mean(b);
  return reducer.takeMean().slice();
}

test('the reducer returns the sample-weighted mean of the gradients', (t) => {
  const reducer = new GradientReducer(BucketLayout.whole(3));
  addWhole(reducer, Float32Array.of(1, 2, 3), 1);
  addWhole(reducer, Float32Array.of(4, 5, 6), 3);
  t.is(reducer.samplesOf(0), 4);
  t.deepEqual(Array.from(meanOfAll(reducer)), [13 / 4, 17 / 4, 21 / 4].map(Math.fround));
  t.is(reducer.samplesOf(0), 0, 'takeMean resets for the next step');
});

test('the mean does not depend on the order in which gradients arrive, nor on the buckets', (t) => {
  const gradients = Array.from({ length: 6 }, (_, k) =>
    Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 0.37 + k) * 10 ** ((i % 7) - 3)),
  );
  const samples = [3, 5, 7, 2, 8, 1];
  const reduce = (order: number[], starts: number[]): Float32Array => {
    const reducer = new GradientReducer(new BucketLayout(starts, 1000));
    for (const k of order) addWhole(reducer, gradients[k], samples[k]);
    return meanOfAll(reducer);
  };
  const reference = reduce([0, 1, 2, 3, 4, 5], [0]);
  t.deepEqual(reduce([5, 3, 1, 4, 0, 2], [0]), reference);
  t.deepEqual(reduce([5, 3, 1, 4, 0, 2], [0, 10, 500, 999]), reference);
});

test("buckets average over the parts they received: a bucket without one worker is the others' mean", (t) => {
  const reducer = new GradientReducer(new BucketLayout([0, 2], 4));
  reducer.add(0, Float32Array.of(1, 1), 1);
  reducer.add(1, Float32Array.of(2, 2), 1);
  reducer.add(0, Float32Array.of(3, 3), 3); // this worker's bucket 1 never arrives
  t.deepEqual(Array.from(reducer.mean(0)), [2.5, 2.5]);
  t.deepEqual(Array.from(reducer.mean(1)), [2, 2]);
});

test('a part of the wrong size, a bad bucket and an empty bucket are refused', (t) => {
  const reducer = new GradientReducer(new BucketLayout([0, 3], 4));
  t.throws(() => reducer.add(0, Float32Array.of(1), 1), { message: /1 values for bucket 0 of 3 parameters/ });
  t.throws(() => reducer.add(2, Float32Array.of(1), 1), { message: /bucket 2 does not exist/ });
  t.throws(() => reducer.mean(1), { message: /no gradient/ });
});

const reportsFinite = test.macro({
  exec(t, values: number[], finite: boolean) {
    const reducer = new GradientReducer(BucketLayout.whole(values.length));
    t.true(
      reducer.add(
        0,
        Float32Array.from(values, () => 1),
        1,
      ),
      'an all-finite part reports true',
    );
    t.is(reducer.add(0, Float32Array.from(values), 2), finite);
  },
  title: (_, values: number[], finite: boolean) =>
    `add reports ${finite ? 'finite' : 'non-finite'} for [${values.join(', ')}]`,
});

test(reportsFinite, [1, -2, 3.4e38, -3.4e38, 0], true);
test(reportsFinite, [1, Number.NaN, 3], false);
test(reportsFinite, [Number.POSITIVE_INFINITY, 2], false);
test(reportsFinite, [0, 0, Number.NEGATIVE_INFINITY], false);
test(reportsFinite, [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], false);

test('a put mean is the very bits adding it once with its weight gives; put reports non-finite values; reset forgets it', (t) => {
  const layout = new BucketLayout([0, 3], 5);
  const values = Float32Array.from({ length: 5 }, (_, i) => Math.fround(Math.sin(i + 0.3) * 1e-3));
  const added = new GradientReducer(layout);
  addWhole(added, values, 7);
  const put = new GradientReducer(layout);
  t.true(put.put(0, values.subarray(0, 3), 7));
  t.true(put.put(1, values.subarray(3, 5), 7));
  t.is(put.samplesOf(1), 7);
  const mean = meanOfAll(put);
  t.deepEqual(mean, meanOfAll(added));
  t.deepEqual(mean, values);
  t.true(put.put(0, values.subarray(0, 3), 7));
  t.false(put.put(1, Float32Array.of(1, Number.NaN), 2));
  put.reset();
  put.add(1, Float32Array.of(2, 4), 1);
  t.deepEqual(Array.from(put.mean(1)), [2, 4], 'after reset the bucket is summed again');
  t.throws(() => put.put(0, Float32Array.of(1), 1), { message: /got 1 values for bucket 0 of 3/ });
});
