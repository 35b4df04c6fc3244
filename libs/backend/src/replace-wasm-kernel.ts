import * as tf from '@tensorflow/tfjs-core';

/**
 * Makes `kernelFunc` the wasm backend's kernel `kernelName`, returning the kernel it replaces (undefined when wasm
 * had none), so the caller can delegate cases it does not handle to the stock kernel or restore it later.
 *
 * Promises: exactly one kernel is registered for (kernelName, 'wasm') afterwards; the stock kernel's setupFunc is
 * kept when `keepSetup` is set (kernels that read backend state prepared at setup, such as Sum).
 * Preconditions: '@tensorflow/tfjs-backend-wasm' has been imported when a stock kernel is to be replaced.
 * Does not: check that the new kernel computes the same thing (the parity tests do), or touch other backends.
 */
export function replaceWasmKernel(
  kernelName: string,
  kernelFunc: tf.KernelFunc,
  keepSetup = false,
): tf.KernelConfig | undefined {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  const setup = keepSetup && existing?.setupFunc !== undefined ? { setupFunc: existing.setupFunc } : {};
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, ...setup });
  return existing;
}
