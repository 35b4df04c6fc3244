import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './select-backend.ts';
import { wasmSharedIdentityInstalled } from './wasm-shared-identity.ts';

test('on wasm, clone shares data: no new buffer, and the clone outlives its source', async (t) => {
  await selectBackend('wasm');
  t.true(wasmSharedIdentityInstalled());
  const source = tf.tensor([1, 2, 3, 4], [2, 2]);
  const buffers = tf.backend().numDataIds();
  const copy = tf.clone(source);
  t.is(tf.backend().numDataIds(), buffers, 'no new data buffer');
  source.dispose();
  t.deepEqual(Array.from(await copy.data()), [1, 2, 3, 4]);
  const doubled = tf.mul(copy, 2);
  t.deepEqual(Array.from(await doubled.data()), [2, 4, 6, 8]);
  tf.dispose([copy, doubled]);
  t.is(tf.backend().numDataIds(), buffers - 1, 'the shared buffer is freed with its last reference');
});
