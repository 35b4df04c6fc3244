import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@ddpm/diffusion-core';
import { installWasmKernels } from './wasm-kernels.ts';
import { selectBackend } from './select-backend.ts';

/**
 * Test support: runs the same differentiable function on a candidate backend (wasm or webgpu) and the cpu backend
 * with the same float32 inputs and compares the gradients, under tfjs's official gradient formulas (registered by
 * @tensorflow/tfjs). The cpu backend's kernels (including its reference Conv2DBackpropInput and
 * Conv2DBackpropFilter) are an independent implementation, so agreement checks the candidate's kernels, ours included.
 */

/** The backends checked against cpu. */
export type ParityBackend = 'wasm' | 'webgpu';
/** Every backend the U-Net parity tests run on. */
export const PARITY_BACKENDS: readonly ParityBackend[] = ['wasm', 'webgpu'];

export interface ParityCase {
  /** Input shapes; inputs are standard normal draws from a seeded Rng. */
  readonly shapes: readonly number[][];
  /** Which inputs to differentiate with respect to (indices into shapes); default all. */
  readonly wrt?: readonly number[];
  /** The function; it must return a tensor whose shape does not depend on the backend. */
  readonly f: (...inputs: tf.Tensor[]) => tf.Tensor;
}

export interface ParityResult {
  /** Per differentiated input: max |candidate - cpu| divided by max |cpu|. */
  readonly relativeErrors: number[];
  /** Per differentiated input: max |cpu| (so a test can reject an all-zero gradient). */
  readonly magnitudes: number[];
}

const prepared = new Set<ParityBackend>();

/**
 * Loads cpu and the candidate: for wasm, installs every wasm replacement kernel through {@link installWasmKernels},
 * the call selectBackend makes; webgpu goes through selectBackend('webgpu') itself (guarded device, software
 * adapters allowed), which rejects with the Mesa install line when there is no adapter, so a machine without one
 * fails the webgpu tests rather than skipping them, and turns off tfjs's hand-off of small webgpu ops to cpu kernels. The first call leaves the candidate active; later calls do nothing.
 */
export async function prepareBackends(backend: ParityBackend = 'wasm'): Promise<void> {
  if (prepared.has(backend)) return;
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  if (backend === 'webgpu') {
    await selectBackend('webgpu');
    // tfjs-backend-webgpu hands ops on small tensors not yet on the GPU to the cpu backend's kernels; the tests'
    // tensors are small, so without this they would compare cpu with cpu.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  } else {
    installWasmKernels();
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  }
  prepared.add(backend);
}

/**
 * Computes d(sum(f(inputs) * r))/d(inputs[wrt]) on `backend` and on cpu, where r is a fixed random tensor (so the
 * upstream gradient is not all ones), and returns relative errors. Call only from serial tests: it switches the
 * global backend.
 */
export async function gradientParity(
  c: ParityCase,
  seed: number,
  backend: ParityBackend = 'wasm',
): Promise<ParityResult> {
  await prepareBackends(backend);
  const rng = new Rng(seed);
  const values = c.shapes.map((shape) => rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))));
  const weightSeed = rng.nextUint32();
  const candidates = await gradientsOn(backend, c, values, weightSeed);
  const cpu = await gradientsOn('cpu', c, values, weightSeed);
  const relativeErrors: number[] = [];
  const magnitudes: number[] = [];
  cpu.forEach((reference, k) => {
    const candidate = candidates[k];
    if (candidate.length !== reference.length)
      throw new Error(`gradient ${k}: ${backend} has ${candidate.length} values, cpu ${reference.length}`);
    let magnitude = 0;
    let error = 0;
    for (let i = 0; i < reference.length; i++) {
      magnitude = Math.max(magnitude, Math.abs(reference[i]));
      error = Math.max(error, Math.abs(candidate[i] - reference[i]));
    }
    magnitudes.push(magnitude);
    relativeErrors.push(Number.isFinite(error) ? error / Math.max(magnitude, 1e-30) : Number.POSITIVE_INFINITY);
  });
  return { relativeErrors, magnitudes };
}

async function gradientsOn(
  backend: ParityBackend | 'cpu',
  c: ParityCase,
  values: Float32Array[],
  weightSeed: number,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.backend().numDataIds();
  const inputs = c.shapes.map((shape, i) => tf.tensor(values[i], shape, 'float32'));
  const wrt = c.wrt ?? inputs.map((_, i) => i);
  const result = tf.tidy(() => {
    const probe = c.f(...inputs);
    const weights = new Rng(weightSeed).normal(probe.shape);
    const loss = (...free: tf.Tensor[]): tf.Scalar => {
      const all = inputs.map((input, i) => (wrt.includes(i) ? free[wrt.indexOf(i)] : input));
      return tf.sum(tf.mul(c.f(...all), weights));
    };
    return tf.grads(loss)(wrt.map((i) => inputs[i]));
  });
  const arrays = await Promise.all(result.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose([...result, ...inputs]);
  // Counts backend buffers, so it also catches intermediates a kernel forgot to release.
  const leaked = tf.backend().numDataIds() - before;
  if (leaked !== 0) throw new Error(`${backend}: ${leaked} data buffers leaked by the gradient computation`);
  return arrays;
}

/** Largest accepted relative error of a candidate's gradient against the cpu backend's (of its max magnitude). */
export const TOLERANCE = 1e-4;

async function checkParity(t: ExecutionContext, backend: ParityBackend, c: ParityCase, seed: number): Promise<void> {
  const { relativeErrors, magnitudes } = await gradientParity(c, seed, backend);
  t.is(relativeErrors.length, (c.wrt ?? c.shapes).length);
  relativeErrors.forEach((error, i) => {
    t.true(magnitudes[i] > 0, `gradient ${i} is all zeros`);
    t.true(error <= TOLERANCE, `gradient ${i}: relative error ${error.toExponential(2)} > ${TOLERANCE}`);
  });
}

/** ava macro: on `backend`, every gradient of `c` is non-zero and matches cpu within TOLERANCE. */
export const backendParity = test.macro({
  exec: checkParity,
  title: (provided = '', backend: ParityBackend) => `${backend} matches cpu: ${provided}`,
});

/** {@link backendParity} on wasm, for the tests of this library's wasm kernels. */
export const parity = test.macro({
  exec: (t, c: ParityCase, seed: number) => checkParity(t, 'wasm', c, seed),
  title: (provided = '') => `wasm matches cpu: ${provided}`,
});
