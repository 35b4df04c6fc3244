import * as tf from '@tensorflow/tfjs-core';
import { installWasmConvGradients, wasmConvGradientsInstalled } from './install-wasm-conv-gradients.ts';
import { installWasmSharedIdentity, wasmSharedIdentityInstalled } from './wasm-shared-identity.ts';
import { installWasmPooledSum, wasmPooledSumInstalled } from './wasm-pooled-sum.ts';
import { installWasmBatchMatMul, wasmBatchMatMulInstalled } from './wasm-batch-matmul.ts';
import { installWasmHeapSlice, wasmHeapSliceInstalled } from './wasm-heap-slice.ts';

/** One of our replacements for (or additions to) the wasm backend's kernels. */
export interface WasmKernelReplacement {
  /** What it is, for people reading logs and docs. */
  readonly description: string;
  /** The tfjs kernel names `install` registers for 'wasm', and no others. */
  readonly kernelNames: readonly string[];
  /** Registers the kernels; idempotent, returns true if this call installed them. */
  readonly install: () => boolean;
  /** True when all of `kernelNames` are ours for 'wasm'. */
  readonly installed: () => boolean;
}

/**
 * Every wasm kernel replacement of this library, the single list that both selectBackend (select-backend.ts) and the
 * gradient parity tests (gradient-parity.ts) install through {@link installWasmKernels}, so the kernels the tests
 * check are the kernels that run.
 * Add a new replacement here and nowhere else.
 */
export const WASM_KERNEL_REPLACEMENTS: readonly WasmKernelReplacement[] = [
  {
    description: 'XNNPACK conv gradients (Conv2DBackpropInput, and the Conv2DBackpropFilter wasm lacks)',
    kernelNames: [tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter],
    install: installWasmConvGradients,
    installed: wasmConvGradientsInstalled,
  },
  {
    description: 'copy-free Identity',
    kernelNames: [tf.Identity],
    install: installWasmSharedIdentity,
    installed: wasmSharedIdentityInstalled,
  },
  {
    description: 'channel Sum as one XNNPACK average pooling',
    kernelNames: [tf.Sum],
    install: installWasmPooledSum,
    installed: wasmPooledSumInstalled,
  },
  {
    description: 'all-XNNPACK BatchMatMul',
    kernelNames: [tf.BatchMatMul],
    install: installWasmBatchMatMul,
    installed: wasmBatchMatMulInstalled,
  },
  {
    description: 'heap-copy Slice, SplitV and Concat',
    kernelNames: [tf.Slice, tf.SplitV, tf.Concat],
    install: installWasmHeapSlice,
    installed: wasmHeapSliceInstalled,
  },
];

/**
 * Installs every replacement in {@link WASM_KERNEL_REPLACEMENTS} for the 'wasm' backend.
 *
 * Promises: idempotent (a second call changes nothing and returns false); afterwards
 * {@link wasmKernelsInstalled} is true. Works before or after `tf.setBackend('wasm')`, since the engine looks kernels
 * up on every call.
 * Preconditions: '@tensorflow/tfjs-backend-wasm' has been imported (the replacements build on its kernels).
 * Does not: initialise or activate the wasm backend, or touch other backends.
 * @returns true if this call installed at least one replacement.
 */
export function installWasmKernels(): boolean {
  let any = false;
  for (const replacement of WASM_KERNEL_REPLACEMENTS) any = replacement.install() || any;
  return any;
}

/** True when every replacement in {@link WASM_KERNEL_REPLACEMENTS} is the registered 'wasm' kernel. */
export function wasmKernelsInstalled(): boolean {
  return WASM_KERNEL_REPLACEMENTS.every((replacement) => replacement.installed());
}
