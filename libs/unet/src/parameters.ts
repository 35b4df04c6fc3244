import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { type ParameterSpec, shapeSize } from './parameter-specs.ts';

/** Total number of scalars over all specs. */
export function countParameters(specs: readonly ParameterSpec[]): number {
  return specs.reduce((total, spec) => total + shapeSize(spec.shape), 0);
}

/**
 * Throws unless `weights` has one float32 tensor per spec, each of the spec's shape, in spec order.
 * The message names the first mismatching parameter. Does not look at the values.
 */
export function checkWeights(specs: readonly ParameterSpec[], weights: readonly tf.Tensor[]): void {
  if (weights.length !== specs.length) {
    throw new RangeError(
      `UNet expects ${specs.length} weight tensors (one per UNet.specs entry) but got ${weights.length}; pass the array from initialize() or unflattenWeights().`,
    );
  }
  specs.forEach((spec, i) => {
    const weight = weights[i];
    const sameShape = weight.rank === spec.shape.length && weight.shape.every((dim, axis) => dim === spec.shape[axis]);
    if (!sameShape || weight.dtype !== 'float32') {
      throw new RangeError(
        `UNet weight #${i} '${spec.name}' must be float32 [${spec.shape}] but is ${weight.dtype} [${weight.shape}]; ` +
          'the weights are probably for a different UNetConfig or in a different order.',
      );
    }
  });
}

/**
 * Copies the weights into one contiguous Float32Array, in spec order, each tensor row-major.
 *
 * This is the wire and checkpoint format: its length is the parameter count. Reads the tensors with `await data()`,
 * so it works on every backend (webgpu has no synchronous reads). Does not: dispose the tensors, or record the specs
 * (the receiver must build the same UNetConfig).
 */
export async function flattenWeights(weights: readonly tf.Tensor[]): Promise<Float32Array> {
  const total = weights.reduce((sum, weight) => sum + weight.size, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const weight of weights) {
    if (weight.dtype !== 'float32')
      throw new RangeError(
        `flattenWeights needs float32 tensors, got ${weight.dtype} [${weight.shape}]; cast it first.`,
      );
    flat.set((await weight.data()) as Float32Array, offset);
    offset += weight.size;
  }
  return flat;
}

/**
 * Splits a flat buffer produced by {@link flattenWeights} back into one new tensor per spec.
 *
 * Throws when the buffer's length differs from the specs' parameter count (a different config, or a truncated
 * message). The caller owns and must dispose the returned tensors. They hold copies, so later writes to
 * `flat` do not affect them; with `{ copy: false }` they are made from views of `flat` (no copy before the backend
 * takes the values: the training step's upload), and the caller must not write to `flat` until it disposed them.
 * Does not: check the values (NaNs pass through).
 */
export function unflattenWeights(
  specs: readonly ParameterSpec[],
  flat: Float32Array,
  options: { readonly copy?: boolean } = {},
): tf.Tensor[] {
  const copy = options.copy ?? true;
  const expected = countParameters(specs);
  if (flat.length !== expected) {
    throw new RangeError(
      `unflattenWeights got ${flat.length} values but the ${specs.length} parameters hold ${expected}; ` +
        'the buffer was made for a different UNetConfig or was truncated in transit.',
    );
  }
  const weights: tf.Tensor[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = shapeSize(spec.shape);
    const values = copy ? flat.slice(offset, offset + size) : flat.subarray(offset, offset + size);
    weights.push(tf.tensor(values, [...spec.shape], 'float32'));
    offset += size;
  }
  return weights;
}

/**
 * DDPM initial weights as one flat buffer in spec order, drawn from Rng(seed).
 *
 * fanAvgUniform parameters are U(−l, l), l = sqrt(6 / (fanIn + fanOut)), drawn in spec order, element by element;
 * zeros/ones parameters consume no draws. Promises: the same seed gives bit-identical weights everywhere.
 */
export function initialWeightsFlat(specs: readonly ParameterSpec[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const flat = new Float32Array(countParameters(specs));
  let offset = 0;
  for (const spec of specs) {
    const size = shapeSize(spec.shape);
    const init = spec.init;
    if (init.kind === 'ones') flat.fill(1, offset, offset + size);
    if (init.kind === 'fanAvgUniform') {
      const limit = Math.sqrt(6 / (init.fanIn + init.fanOut));
      for (let i = offset; i < offset + size; i++) flat[i] = (2 * rng.uniform() - 1) * limit;
    }
    offset += size;
  }
  return flat;
}
