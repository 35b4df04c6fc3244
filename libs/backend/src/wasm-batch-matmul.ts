import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace-wasm-kernel.ts';
import { type WasmBackendInternals } from './wasm-heap-views.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

/**
 * BatchMatMul for the wasm backend that always runs XNNPACK: one fully-connected matmul per batch entry on
 * zero-copy views of the operands, each product written straight into its slice of the output. A transposed
 * operand is transposed once, as a whole, first. The stock wasm kernel uses XNNPACK only for batch 1 without
 * transposes and otherwise a scalar loop (~1.7 GFLOP/s on the U-Net's attention, [32,49,49] x [32,49,64]).
 *
 * Promises: the same result as tfjs's BatchMatMul for float32 operands of rank >= 2 with equal batch
 * dimensions or a batch of 1 on either side (broadcast); every intermediate is released before returning.
 * A right operand without a batch (or with batch 1) and without transpose is used under its own id, so XNNPACK's
 * per-id weight cache still works for repeated products with the same weights.
 * Preconditions: called by the engine as the wasm kernel (`backend` is the wasm backend).
 * Does not: support other dtypes (throws, as the stock kernel does) or general broadcasting of several batch
 * dimensions of different sizes (throws a message saying how to reshape).
 */
export function wasmBatchMatMul(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { a, b } = args.inputs;
  if (a === undefined || b === undefined) throw new Error('BatchMatMul (wasm, @ddpm/backend) needs inputs a and b.');
  if (a.dtype !== 'float32' || b.dtype !== 'float32')
    throw new Error(
      `BatchMatMul (wasm, @ddpm/backend) supports float32 only, got ${a.dtype} x ${b.dtype}; cast the operands with tf.cast(x, 'float32').`,
    );
  const transposeA = args.attrs?.['transposeA'] === true;
  const transposeB = args.attrs?.['transposeB'] === true;
  const [batchA, rowsA, columnsA] = asBatchOfMatrices(a.shape);
  const [batchB, rowsB, columnsB] = asBatchOfMatrices(b.shape);
  const m = transposeA ? columnsA : rowsA;
  const k = transposeA ? rowsA : columnsA;
  const n = transposeB ? rowsB : columnsB;
  const kB = transposeB ? columnsB : rowsB;
  if (k !== kB) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = outer.reduce((p, s) => p * s, 1);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
    throw new Error(
      `BatchMatMul (wasm, @ddpm/backend): batch dimensions [${outerA.join(', ')}] and [${outerB.join(', ')}] broadcast only partially; reshape both to one batch dimension (equal sizes, or 1 on one side) first.`,
    );
  }
  const outShape = [...outer, m, n];
  const calls = new WasmKernelCalls(args.backend as DisposingBackend);
  try {
    const left = transposeA ? calls.transpose(calls.reshape(a, [batchA, rowsA, columnsA]), [0, 2, 1]) : a;
    const right = transposeB ? calls.transpose(calls.reshape(b, [batchB, rowsB, columnsB]), [0, 2, 1]) : b;
    const out = calls.allocate([batch, m, n]);
    const views = calls.views;
    const sharedRight =
      batchB === 1 && !transposeB ? (args.backend as WasmBackendInternals).dataIdMap.get(b.dataId)?.id : undefined;
    for (let i = 0; i < batch; i++) {
      const aId = views.view(left, batchA === 1 ? 0 : i * m * k, m * k);
      const bId = sharedRight ?? views.view(right, batchB === 1 ? 0 : i * k * n, k * n);
      views.matMul(aId, m, k, bId, n, views.view(out, i * m * n, m * n));
    }
    return calls.keep(calls.reshape(out, outShape));
  } finally {
    calls.disposeIntermediates();
  }
}

function asBatchOfMatrices(shape: readonly number[]): [number, number, number] {
  if (shape.length < 2)
    throw new Error(`BatchMatMul (wasm, @ddpm/backend) needs operands of rank >= 2, got shape [${shape.join(', ')}].`);
  const batch = shape.slice(0, -2).reduce((p, s) => p * s, 1);
  return [batch, shape[shape.length - 2], shape[shape.length - 1]];
}

/**
 * Registers {@link wasmBatchMatMul} as the wasm backend's BatchMatMul. Idempotent (returns false when already
 * installed). Works before or after `tf.setBackend('wasm')`. Does not touch _FusedMatMul or other backends.
 * @returns true if this call installed the kernel.
 */
export function installWasmBatchMatMul(): boolean {
  if (wasmBatchMatMulInstalled()) return false;
  replaceWasmKernel(tf.BatchMatMul, wasmBatchMatMul);
  return true;
}

/** True when the wasm BatchMatMul kernel is {@link wasmBatchMatMul}. */
export function wasmBatchMatMulInstalled(): boolean {
  return tf.getKernel(tf.BatchMatMul, 'wasm')?.kernelFunc === wasmBatchMatMul;
}
