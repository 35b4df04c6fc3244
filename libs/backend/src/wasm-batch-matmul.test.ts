import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { parity, prepareBackends, type ParityCase } from './gradient-parity.ts';
import { installWasmBatchMatMul, wasmBatchMatMulInstalled } from './wasm-batch-matmul.ts';

/** matMul case: the gradients run BatchMatMul again with the other transpose combinations. */
function matMul(a: number[], b: number[], transposeA = false, transposeB = false): ParityCase {
  return { shapes: [a, b], f: (x, y) => tf.matMul(x, y, transposeA, transposeB) };
}

test.serial('batched matMul, attention-sized (per-entry XNNPACK)', parity, matMul([4, 49, 16], [4, 16, 49]), 301);
test.serial('batched matMul with transposeB (q k^T)', parity, matMul([3, 7, 5], [3, 6, 5], false, true), 302);
test.serial('batched matMul with transposeA', parity, matMul([3, 5, 7], [3, 5, 6], true, false), 303);
test.serial('batched matMul with both transposes', parity, matMul([2, 5, 7], [2, 6, 5], true, true), 304);
test.serial('plain 2-D matMul (batch 1)', parity, matMul([9, 5], [5, 4]), 305);

// tfjs's BatchMatMul gradient does not reduce broadcast batch dimensions (on any backend), so broadcasting is
// checked on the forward values only.
const broadcastValues = test.macro({
  async exec(t, aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean) {
    await prepareBackends();
    const rng = new Rng(308);
    const aValues = rng.fillNormal(new Float32Array(aShape.reduce((p, s) => p * s, 1)));
    const bValues = rng.fillNormal(new Float32Array(bShape.reduce((p, s) => p * s, 1)));
    const on = async (backend: 'wasm' | 'cpu'): Promise<{ shape: number[]; values: Float32Array }> => {
      await tf.setBackend(backend);
      const [a, b] = [tf.tensor(aValues, aShape), tf.tensor(bValues, bShape)];
      const product = tf.matMul(a, b, transposeA, transposeB);
      const values = (await product.data()) as Float32Array;
      const shape = product.shape;
      tf.dispose([a, b, product]);
      return { shape, values };
    };
    const wasm = await on('wasm');
    const cpu = await on('cpu');
    t.deepEqual(wasm.shape, cpu.shape);
    const error = Math.max(...Array.from(cpu.values, (v, i) => Math.abs(v - wasm.values[i])));
    t.true(error < 1e-5 * Math.max(...Array.from(cpu.values, Math.abs)), `max error ${error}`);
  },
  title: (provided = '') => `wasm matMul values match cpu: ${provided}`,
});
test.serial(
  'rank-4 left operand times a shared 2-D right operand',
  broadcastValues,
  [2, 3, 5, 4],
  [4, 6],
  false,
  false,
);
test.serial('shared 2-D left operand, transposed, times a batch', broadcastValues, [4, 5], [3, 4, 6], true, false);
test.serial('batch of 1 on the left, transposed right', broadcastValues, [1, 7, 3], [2, 5, 3], false, true);

test.serial('broadcast shapes that are neither equal nor 1 are rejected with a fix', async (t) => {
  await prepareBackends();
  await tf.setBackend('wasm');
  const a = tf.zeros([2, 3, 4, 5]);
  const b = tf.zeros([3, 5, 2]);
  const error = t.throws(() => tf.matMul(a, b));
  t.regex(error?.message ?? '', /reshape both to one batch dimension/);
  tf.dispose([a, b]);
});

test.serial('installing is idempotent', async (t) => {
  await prepareBackends();
  t.true(wasmBatchMatMulInstalled());
  t.false(installWasmBatchMatMul());
  t.true(wasmBatchMatMulInstalled());
});
