import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { parity, prepareBackends } from './gradient-parity.ts';
import { installWasmHeapSlice, wasmHeapSliceInstalled } from './wasm-heap-slice.ts';

/** Independent reference: element (i0, i1, ...) of the slice is x[begin + i] in row-major order. */
function referenceSlice(values: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));
  const total = size.reduce((a, b) => a * b, 1);
  return Array.from({ length: total }, (_, flat) => {
    let rest = flat;
    let offset = 0;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      offset += (begin[axis] + (rest % size[axis])) * strides[axis];
      rest = Math.floor(rest / size[axis]);
    }
    return values[offset];
  });
}

const slicesLikeReference = test.macro({
  async exec(t, shape: number[], begin: number[], size: number[], dtype: 'float32' | 'int32' | 'bool') {
    await prepareBackends();
    await tf.setBackend('wasm');
    const count = shape.reduce((a, b) => a * b, 1);
    const rng = new Rng(count);
    const values = Array.from({ length: count }, () =>
      dtype === 'bool' ? rng.nextUint32() & 1 : dtype === 'int32' ? rng.nextUint32() % 1000 : rng.uniform(),
    );
    const x = tf.tensor(values, shape, dtype);
    const y = tf.slice(x, begin, size);
    t.deepEqual(y.shape, size);
    t.deepEqual(Array.from(await y.data(), Number), referenceSlice(Float32Array.from(values), shape, begin, size));
    tf.dispose([x, y]);
  },
  title: (_, shape: number[], begin: number[], size: number[], dtype: string) =>
    `wasm Slice of ${dtype} [${shape}] at [${begin}] size [${size}] matches the definition`,
});

test.serial(slicesLikeReference, [4, 3, 5], [1, 0, 0], [2, 3, 5], 'float32'); // leading axis: one run
test.serial(slicesLikeReference, [4, 6, 5, 3], [1, 2, 1, 0], [2, 3, 4, 3], 'float32');
test.serial(slicesLikeReference, [3, 4, 2, 3, 5], [0, 1, 1, 0, 2], [3, 2, 1, 3, 2], 'float32'); // rank 5
test.serial(slicesLikeReference, [5, 7], [2, 3], [3, 0], 'int32'); // empty
test.serial(slicesLikeReference, [6, 4], [1, 1], [4, 2], 'int32');
test.serial(slicesLikeReference, [3, 9], [1, 2], [2, 5], 'bool');
test.serial(slicesLikeReference, [7], [2], [4], 'float32');

test.serial(
  'slice and split gradients',
  parity,
  {
    shapes: [[3, 4, 6, 5]],
    f: (x) => {
      const [left, right] = tf.split(x, [2, 4], 2);
      return tf.concat(
        [
          tf.reshape(tf.mul(left, tf.slice(right, [0, 0, 1, 0], [3, 4, 2, 5])), [-1]),
          tf.reshape(tf.slice(x, [1, 0, 2, 1], [2, 4, 3, 3]), [-1]),
        ],
        0,
      );
    },
  },
  401,
);

test.serial('split into equal and unequal parts along every axis matches the definition', async (t) => {
  await prepareBackends();
  await tf.setBackend('wasm');
  const shape = [4, 6, 2];
  const values = Array.from({ length: 48 }, (_, i) => i);
  const x = tf.tensor(values, shape);
  for (const [axis, splits] of [
    [0, 2],
    [1, [1, 2, 3]],
    [2, 2],
  ] as Array<[number, number | number[]]>) {
    const parts = tf.split(x, splits, axis);
    let start = 0;
    for (const part of parts) {
      const begin = [0, 0, 0];
      begin[axis] = start;
      t.deepEqual(Array.from(await part.data()), referenceSlice(values, shape, begin, part.shape));
      start += part.shape[axis];
    }
    tf.dispose(parts);
  }
  x.dispose();
});

test.serial('concat along every axis, with an empty input and int32, matches the definition', async (t) => {
  await prepareBackends();
  await tf.setBackend('wasm');
  const a = Array.from({ length: 24 }, (_, i) => i);
  const b = Array.from({ length: 12 }, (_, i) => 100 + i);
  const cases: Array<[number[], number[], number]> = [
    [[2, 3, 4], [1, 3, 4], 0],
    [[2, 3, 4], [2, 3, 2], 2],
    [[2, 3, 4], [2, 1, 4], 1],
  ];
  for (const [shapeA, shapeB, axis] of cases) {
    const x = tf.tensor(
      a.slice(
        0,
        shapeA.reduce((p, s) => p * s, 1),
      ),
      shapeA,
      'int32',
    );
    const y = tf.tensor(
      b.slice(
        0,
        shapeB.reduce((p, s) => p * s, 1),
      ),
      shapeB,
      'int32',
    );
    const empty = tf.zeros(
      shapeA.map((s, i) => (i === axis ? 0 : s)),
      'int32',
    );
    const joined = tf.concat([x, empty, y], axis);
    // Reference: row r of the axes before `axis` is x's row r followed by y's row r.
    const rows = shapeA.slice(0, axis).reduce((p, s) => p * s, 1);
    const wa = x.size / rows;
    const wb = y.size / rows;
    const expected = Array.from({ length: rows }, (_, r) => [
      ...a.slice(r * wa, (r + 1) * wa),
      ...b.slice(r * wb, (r + 1) * wb),
    ]).flat();
    t.deepEqual(Array.from(await joined.data()), expected, `axis ${axis}`);
    tf.dispose([x, y, empty, joined]);
  }
});

test.serial('installing is idempotent', async (t) => {
  await prepareBackends();
  t.true(wasmHeapSliceInstalled());
  t.false(installWasmHeapSlice());
});
