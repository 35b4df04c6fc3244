import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { selectBackend } from './select-backend.ts';
import { pooledSumLayout, wasmPooledSumInstalled } from './wasm-pooled-sum.ts';

test('pooledSumLayout: contiguous blocks that keep the last axis, nothing else', (t) => {
  t.deepEqual(pooledSumLayout([2, 3, 4, 5], [1, 2]), { outer: 2, reduced: 12, inner: 5 });
  t.deepEqual(pooledSumLayout([2, 3, 4, 5], [0, 1, 2]), { outer: 1, reduced: 24, inner: 5 });
  t.deepEqual(pooledSumLayout([2, 3, 4, 5], [-3, -2]), { outer: 2, reduced: 12, inner: 5 });
  t.deepEqual(pooledSumLayout([6, 5], [0]), { outer: 1, reduced: 6, inner: 5 });
  t.is(pooledSumLayout([2, 3, 4, 5], [3]), undefined, 'last axis reduced');
  t.is(pooledSumLayout([2, 3, 4, 5], [0, 2]), undefined, 'not contiguous');
  t.is(pooledSumLayout([5], [0]), undefined, 'rank 1');
  t.is(pooledSumLayout([2, 0, 4], [1]), undefined, 'empty');
});

/** Float64 sum of `values` (shape `shape`) over `axes`, keeping the remaining axes in order. */
function referenceSum(values: Float32Array, shape: number[], axes: number[]): number[] {
  const kept = shape.map((_, a) => a).filter((a) => !axes.includes(a));
  const out = new Float64Array(kept.reduce((p, a) => p * shape[a], 1));
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < values.length; flat++) {
    let o = 0;
    for (const a of kept) o = o * shape[a] + index[a];
    out[o] += values[flat];
    for (let a = shape.length - 1; a >= 0 && ++index[a] === shape[a]; a--) index[a] = 0;
  }
  return Array.from(out);
}

const sumCase = test.macro({
  async exec(t, shape: number[], axes: number[], keepDims: boolean, dtype: 'float32' | 'int32') {
    await selectBackend('wasm');
    t.true(wasmPooledSumInstalled());
    const rng = new Rng(shape.reduce((p, s) => p * 31 + s, axes.length));
    const values = rng
      .fillNormal(new Float32Array(shape.reduce((p, s) => p * s, 1)))
      .map((v) => (dtype === 'int32' ? Math.round(v * 50) : v * 3 + 1));
    const x = dtype === 'int32' ? tf.tensor(Int32Array.from(values), shape, 'int32') : tf.tensor(values, shape);
    const sum = tf.sum(x, axes, keepDims);
    const expectedShape = keepDims
      ? shape.map((s, a) => (axes.includes(a) ? 1 : s))
      : shape.filter((_, a) => !axes.includes(a));
    t.deepEqual(sum.shape, expectedShape);
    t.is(sum.dtype, dtype);
    const expected = referenceSum(values, shape, axes);
    const actual = Array.from(await sum.data());
    const scale = Math.max(...expected.map(Math.abs));
    const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i])));
    t.true(worst <= 1e-5 * scale, `max error ${worst} against float64 reference (scale ${scale})`);
    tf.dispose([x, sum]);
  },
  title: (provided, shape: number[], axes: number[], keepDims: boolean, dtype: string) =>
    `wasm Sum ${dtype} [${shape.join(',')}] over [${axes.join(',')}]${keepDims ? ' keepDims' : ''}${provided ? ` (${provided})` : ''}`,
});

test.serial('GroupNorm channel sums', sumCase, [4, 28, 28, 8], [1, 2], false, 'float32');
test.serial('bias gradient', sumCase, [4, 14, 14, 16], [0, 1, 2], false, 'float32');
test.serial('keepDims', sumCase, [3, 7, 7, 5], [1, 2], true, 'float32');
test.serial('rank 2, axis 0', sumCase, [50, 3], [0], false, 'float32');
test.serial('fallback: innermost axis', sumCase, [4, 6, 5], [2], false, 'float32');
test.serial('fallback: non-contiguous axes', sumCase, [3, 4, 5, 2], [0, 2], false, 'float32');
test.serial('fallback: int32', sumCase, [3, 4, 5], [0, 1], false, 'int32');
