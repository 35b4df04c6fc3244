import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@ddpm/diffusion-core';
import { installWasmKernels } from './wasm-kernels.ts';

/**
 * Test support: runs the same differentiable function on the wasm and the cpu backend with the same float32
 * inputs and compares the gradients, under tfjs's official gradient formulas (registered by @tensorflow/tfjs).
 * The cpu backend's kernels (including its reference Conv2DBackpropInput and
 * Conv2DBackpropFilter) are an independent implementation, so agreement checks the wasm kernels, ours included.
 */
export interface ParityCase {
  /** Input shapes; inputs are standard normal draws from a seeded Rng. */
  readonly shapes: readonly number[][];
  /** Which inputs to differentiate with respect to (indices into shapes); default all. */
  readonly wrt?: readonly number[];
  /** The function; it must return a tensor whose shape does not depend on the backend. */
  readonly f: (...inputs: tf.Tensor[]) => tf.Tensor;
}

export interface ParityResult {
  /** Per differentiated input: max |wasm - cpu| divided by max |cpu|. */
  readonly relativeErrors: number[];
  /** Per differentiated input: max |cpu| (so a test can reject an all-zero gradient). */
  readonly magnitudes: number[];
}

let prepared = false;

/**
 * Loads both backends and installs every wasm replacement kernel through {@link installWasmKernels}, the call
 * selectBackend makes, so the parity tests check the kernels that run (@tensorflow/tfjs registers the gradients).
 * Idempotent.
 */
export async function prepareBackends(): Promise<void> {
  if (prepared) return;
  installWasmKernels();
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  prepared = true;
}

/**
 * Computes d(sum(f(inputs) * r))/d(inputs[wrt]) on both backends, where r is a fixed random tensor (so the
 * upstream gradient is not all ones), and returns relative errors. Call only from serial tests: it switches the
 * global backend.
 */
export async function gradientParity(c: ParityCase, seed: number): Promise<ParityResult> {
  await prepareBackends();
  const rng = new Rng(seed);
  const values = c.shapes.map((shape) => rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))));
  const weightSeed = rng.nextUint32();
  const wasm = await gradientsOn('wasm', c, values, weightSeed);
  const cpu = await gradientsOn('cpu', c, values, weightSeed);
  const relativeErrors: number[] = [];
  const magnitudes: number[] = [];
  cpu.forEach((reference, k) => {
    const candidate = wasm[k];
    if (candidate.length !== reference.length)
      throw new Error(`gradient ${k}: wasm has ${candidate.length} values, cpu ${reference.length}`);
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
  backend: 'wasm' | 'cpu',
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

/** Largest accepted relative error of a wasm gradient against the cpu backend's (of the gradient's max magnitude). */
export const TOLERANCE = 1e-4;

/** ava macro shared by the parity tests: every gradient of `c` is non-zero and matches cpu within TOLERANCE. */
export const parity = test.macro({
  async exec(t, c: ParityCase, seed: number) {
    const { relativeErrors, magnitudes } = await gradientParity(c, seed);
    t.is(relativeErrors.length, (c.wrt ?? c.shapes).length);
    relativeErrors.forEach((error, i) => {
      t.true(magnitudes[i] > 0, `gradient ${i} is all zeros`);
      t.true(error <= TOLERANCE, `gradient ${i}: relative error ${error.toExponential(2)} > ${TOLERANCE}`);
    });
  },
  title: (provided = '') => `wasm matches cpu: ${provided}`,
});
