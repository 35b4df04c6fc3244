import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { timestepEmbedding } from './timestep-embedding.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const matchesFloat64Reference = test.macro({
  exec(t, dim: number) {
    const steps = [0, 1, 17, 500, 999];
    const input = tf.tensor1d(steps, 'int32');
    const emb = timestepEmbedding(input, dim);
    t.deepEqual(emb.shape, [steps.length, dim]);
    t.is(emb.dtype, 'float32');
    const values = emb.dataSync();
    const half = Math.floor(dim / 2);
    for (let r = 0; r < steps.length; r++) {
      for (let j = 0; j < dim; j++) {
        const i = j % half;
        const frequency = 10000 ** (-i / (half - 1));
        const arg = steps[r] * frequency;
        const expected = j >= 2 * half ? 0 : j < half ? Math.sin(arg) : Math.cos(arg);
        // float32 rounding of the argument t·f costs about 1.2e-7 relative, i.e. that much absolute error in sin/cos.
        const tolerance = 1e-6 + 3e-7 * arg;
        const got = values[r * dim + j];
        if (Math.abs(got - expected) > tolerance) {
          t.fail(`t=${steps[r]} column ${j}: got ${got}, float64 reference ${expected}`);
          return;
        }
      }
    }
    t.false(input.isDisposed, 'the embedding must not dispose its input');
    input.dispose();
    emb.dispose();
    t.pass();
  },
  title: (_, dim: number) => `sinusoidal embedding matches a float64 reference (dim ${dim})`,
});

test(matchesFloat64Reference, 4);
test(matchesFloat64Reference, 7);
test(matchesFloat64Reference, 64);

test('at t = 0 the sine half is 0 and the cosine half is 1', (t) => {
  const emb = timestepEmbedding(tf.tensor1d([0], 'int32'), 8);
  t.deepEqual(Array.from(emb.dataSync()), [0, 0, 0, 0, 1, 1, 1, 1]);
});

test('dimensions below 4 are refused', (t) => {
  const input = tf.tensor1d([1], 'int32');
  t.throws(() => timestepEmbedding(input, 3), { instanceOf: RangeError, message: /dim >= 4/ });
  t.throws(() => timestepEmbedding(input, 6.5), { instanceOf: RangeError });
});
