import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace-wasm-kernel.ts';
import { wasmConv2DBackpropFilter } from './wasm-conv-backprop-filter.ts';
import { wasmConv2DBackpropInput } from './wasm-conv-backprop-input.ts';

let originalBackpropInput: tf.KernelConfig | undefined;

/**
 * Registers the fast conv-gradient kernels for the 'wasm' backend: a `Conv2DBackpropFilter` (wasm has none, so
 * training a conv net on wasm otherwise fails) and a replacement `Conv2DBackpropInput` (wasm's own is a scalar
 * loop ~10x slower than XNNPACK). Both are built from kernels wasm already has, mostly XNNPACK Conv2D.
 *
 * Promises: idempotent (a second call changes nothing and returns false); afterwards tf.grads on wasm gives the
 * same conv gradients as the cpu backend. Works before or after `tf.setBackend('wasm')`, since the engine looks
 * kernels up on every call.
 * Preconditions: '@tensorflow/tfjs-backend-wasm' has been imported (it registers the kernels these build on).
 * Does not: initialise the wasm backend, touch other backends, or change forward convolutions.
 * @returns true if this call installed the kernels.
 */
export function installWasmConvGradients(): boolean {
  if (wasmConvGradientsInstalled()) return false;
  originalBackpropInput = replaceWasmKernel(tf.Conv2DBackpropInput, wasmConv2DBackpropInput) ?? originalBackpropInput;
  replaceWasmKernel(tf.Conv2DBackpropFilter, wasmConv2DBackpropFilter);
  return true;
}

/** True when both fast conv-gradient kernels are the ones registered for 'wasm'. */
export function wasmConvGradientsInstalled(): boolean {
  return (
    tf.getKernel(tf.Conv2DBackpropInput, 'wasm')?.kernelFunc === wasmConv2DBackpropInput &&
    tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')?.kernelFunc === wasmConv2DBackpropFilter
  );
}

/**
 * Puts wasm's original Conv2DBackpropInput back and removes the Conv2DBackpropFilter kernel, for benchmarks that
 * compare against the stock backend. Does nothing if the kernels were never installed.
 */
export function uninstallWasmConvGradients(): void {
  if (tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')?.kernelFunc === wasmConv2DBackpropFilter)
    tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
  if (tf.getKernel(tf.Conv2DBackpropInput, 'wasm')?.kernelFunc === wasmConv2DBackpropInput) {
    tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
    if (originalBackpropInput !== undefined) {
      tf.registerKernel(originalBackpropInput);
      // Setup functions run when a backend initialises; the original may have been unregistered before that.
      const wasm = tf.findBackend('wasm');
      if (wasm !== null && wasm !== undefined) originalBackpropInput.setupFunc?.(wasm);
    }
  }
}
