import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, WASM_KERNEL_REPLACEMENTS, wasmKernelsInstalled } from './wasm-kernels.ts';
import { selectBackend } from './select-backend.ts';
import { prepareBackends } from './gradient-parity.ts';

// The tests run in order in one process: each installs the replacements from the stock wasm kernels, checks which
// kernels changed, and puts the stock kernels back for the next one.

/** The wasm kernel registrations as tfjs-backend-wasm made them, taken before anything here installs ours. */
const stock = snapshot();
const listed = WASM_KERNEL_REPLACEMENTS.flatMap((r) => r.kernelNames).sort();

function snapshot(): Map<string, tf.KernelConfig> {
  return new Map(tf.getKernelsForBackend('wasm').map((config) => [config.kernelName, config]));
}

/** Kernel names whose wasm registration differs from `before` (replaced, added or removed), sorted. */
function changedSince(before: Map<string, tf.KernelConfig>): string[] {
  const now = snapshot();
  const names = new Set([...before.keys(), ...now.keys()]);
  return [...names].filter((name) => before.get(name)?.kernelFunc !== now.get(name)?.kernelFunc).sort();
}

/** Re-registers the stock wasm kernels, removing the ones the stock backend does not have. */
function restoreStock(): void {
  const wasm = tf.findBackend('wasm');
  for (const name of changedSince(stock)) {
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    const original = stock.get(name);
    if (original === undefined) continue;
    tf.registerKernel(original);
    // Setup functions run when a backend initialises, which may have happened while ours was registered.
    if (wasm !== null && wasm !== undefined) original.setupFunc?.(wasm);
  }
}

function installedReplacements(): string[] {
  return WASM_KERNEL_REPLACEMENTS.filter((r) => r.installed()).map((r) => r.description);
}

test.serial('the list names every kernel once and none is installed before the tests install them', (t) => {
  t.true(listed.length > 0);
  t.is(new Set(listed).size, listed.length, 'no two replacements register the same kernel');
  t.deepEqual(installedReplacements(), []);
});

test.serial('prepareBackends (the gradient parity tests) replaces exactly the listed kernels', async (t) => {
  await prepareBackends();
  t.deepEqual(changedSince(stock), listed);
  t.true(wasmKernelsInstalled());
  restoreStock();
  t.deepEqual(changedSince(stock), []);
  t.deepEqual(installedReplacements(), [], 'restoring the stock kernels uninstalls every replacement');
});

test.serial("selectBackend('wasm') replaces exactly the listed kernels", async (t) => {
  await selectBackend('wasm');
  t.is(tf.getBackend(), 'wasm');
  t.deepEqual(changedSince(stock), listed);
  t.true(wasmKernelsInstalled());
  restoreStock();
});

test.serial('installWasmKernels replaces exactly the listed kernels and is idempotent', (t) => {
  t.true(installWasmKernels());
  t.deepEqual(changedSince(stock), listed);
  t.true(wasmKernelsInstalled());
  const installed = snapshot();
  t.false(installWasmKernels());
  t.deepEqual(changedSince(installed), [], 'a second call changes nothing');
});

test.serial('after the stock kernels are back and reinstalled, wasm still computes', async (t) => {
  const x = tf.tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
  const [sum, product] = tf.tidy(() => {
    const m = tf.reshape(x, [2, 3]);
    return [tf.sum(x, [0, 1]), tf.matMul(m, m, false, true)];
  });
  t.deepEqual(Array.from(await sum.data()), [5, 7, 9]);
  t.deepEqual(Array.from(await product.data()), [14, 32, 32, 77]);
  tf.dispose([x, sum, product]);
});
