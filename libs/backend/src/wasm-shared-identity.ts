import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace-wasm-kernel.ts';

/** The part of the wasm backend the shared Identity needs: adding a reference to a tensor's data. */
interface ReferenceCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Identity that returns the input's data with one more reference, as the cpu backend's Identity (and wasm's Reshape) do. */
function sharedIdentity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { x } = args.inputs;
  if (x === undefined) throw new Error('Identity (wasm, @ddpm/backend) needs input x.');
  (args.backend as ReferenceCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Replaces the wasm backend's Identity kernel, which copies the tensor, by one that shares the input's data (tfjs
 * tensors are immutable, and the wasm backend reference-counts data as Reshape relies on). tf.grads runs Identity
 * for every tensor it saves for the backward pass (~1,300 per U-Net training step), so this removes those copies.
 *
 * Promises: idempotent (returns false when already installed); afterwards tf.clone and the tensors saved for
 * gradients on wasm cost no copy. Works before or after `tf.setBackend('wasm')`.
 * Preconditions: '@tensorflow/tfjs-backend-wasm' has been imported.
 * Does not: touch other backends or other kernels.
 * @returns true if this call installed the kernel.
 */
export function installWasmSharedIdentity(): boolean {
  if (wasmSharedIdentityInstalled()) return false;
  replaceWasmKernel(tf.Identity, sharedIdentity);
  return true;
}

/** True when the wasm Identity kernel is the data-sharing one. */
export function wasmSharedIdentityInstalled(): boolean {
  return tf.getKernel(tf.Identity, 'wasm')?.kernelFunc === sharedIdentity;
}
