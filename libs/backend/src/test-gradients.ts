import * as tf from '@tensorflow/tfjs-core';

/**
 * Test support: gradient definitions for the kernels the backend parity tests put on the tape.
 *
 * Why: the Node bundle of @tensorflow/tfjs-core registers no gradients (the union package @tensorflow/tfjs does,
 * and it is not a dependency); @ddpm/unet registers its own set for training. These tests compare the wasm and
 * cpu KERNELS (forward and backward) under the same gradient formulas, so the formulas only need to be right,
 * not identical to @ddpm/unet's. Formulas follow tfjs-core 4.22 src/gradients/*_grad.ts.
 * Does not: override a gradient that is already registered.
 */
type Saved = tf.Tensor[];

function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error('test gradients: a single-output kernel received several upstream gradients.');
  return dy;
}

function unbroadcast(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, grad.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(grad, axes) : grad, shape);
}

function expandReduced(dy: tf.Tensor, x: tf.Tensor, axisAttr: tf.NamedAttrMap[string]): { grad: tf.Tensor; count: number } {
  const axes = tf.util.parseAxisParam(axisAttr as number | number[], x.shape);
  const expanded = x.shape.slice();
  let count = 1;
  for (const axis of axes) {
    expanded[axis] = 1;
    count *= x.shape[axis];
  }
  return { grad: tf.mul(tf.reshape(dy, expanded), tf.ones(x.shape, 'float32')), count };
}

const CONFIGS: tf.GradConfig[] = [
  { kernelName: tf.Add, inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]: Saved) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => unbroadcast(single(dy), b.shape) }) },
  { kernelName: tf.Sub, inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]: Saved) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => tf.neg(unbroadcast(single(dy), b.shape)) }) },
  {
    kernelName: tf.Multiply,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({ a: () => unbroadcast(tf.mul(single(dy), b), a.shape), b: () => unbroadcast(tf.mul(single(dy), a), b.shape) }),
  },
  { kernelName: tf.Square, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.mul(single(dy), tf.mul(x, 2)) }) },
  { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(single(dy)) }) },
  { kernelName: tf.Rsqrt, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.div(single(dy), tf.mul(tf.pow(x, 1.5), -2)) }) },
  { kernelName: tf.Sigmoid, outputsToSave: [true], gradFunc: (dy, [y]: Saved) => ({ x: () => tf.mul(single(dy), tf.mul(y, tf.sub(1, y))) }) },
  { kernelName: tf.Reshape, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.reshape(single(dy), x.shape) }) },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => single(dy).clone() }) },
  { kernelName: tf.Transpose, gradFunc: (dy, _saved, attrs) => ({ x: () => tf.transpose(single(dy), tf.backend_util.getUndoAxesPermutation(attrs['perm'] as number[])) }) },
  { kernelName: tf.Sum, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved, attrs) => ({ x: () => expandReduced(single(dy), x, attrs['axis']).grad }) },
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved, attrs) => ({
      x: () => {
        const { grad, count } = expandReduced(single(dy), x, attrs['axis']);
        return tf.div(grad, count);
      },
    }),
  },
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, [y]: Saved, attrs) => {
      const dyTimesY = tf.mul(single(dy), y);
      return { logits: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [attrs['dim'] as number], true), y)) };
    },
  },
  {
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dyIn, [a, b]: Saved, attrs) => {
      const dy = single(dyIn);
      const ta = attrs['transposeA'] === true;
      const tb = attrs['transposeB'] === true;
      if (!ta && !tb) return { a: () => tf.matMul(dy, b, false, true), b: () => tf.matMul(a, dy, true, false) };
      if (!ta && tb) return { a: () => tf.matMul(dy, b, false, false), b: () => tf.matMul(dy, a, true, false) };
      if (ta && !tb) return { a: () => tf.matMul(b, dy, false, true), b: () => tf.matMul(a, dy, false, false) };
      return { a: () => tf.matMul(b, dy, true, true), b: () => tf.matMul(dy, a, true, true) };
    },
  },
  {
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dyIn, [x, filter]: Saved, attrs) => {
      const dy = single(dyIn);
      const common = { strides: attrs['strides'], pad: attrs['pad'], dataFormat: attrs['dataFormat'], dimRoundingMode: attrs['dimRoundingMode'] } as tf.NamedAttrMap;
      return {
        x: () => tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropInput, { dy, filter }, { ...common, inputShape: x.shape }),
        filter: () => tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: filter.shape }),
      };
    },
  },
  {
    kernelName: tf.Tile,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved, attrs) => ({
      x: () => {
        // Tiling repeats x reps[i] times along axis i: sum dy over the repetitions.
        const reps = attrs['reps'] as number[];
        const split = x.shape.flatMap((size, i) => [reps[i], size]);
        const summed = tf.sum(tf.reshape(single(dy), split), split.map((_, i) => i).filter((i) => i % 2 === 0));
        return tf.reshape(summed, x.shape);
      },
    }),
  },
  {
    kernelName: tf.ResizeNearestNeighbor,
    inputsToSave: ['images'],
    gradFunc: (dy, [images]: Saved, attrs) => ({ images: () => tf.engine().runKernel<tf.Tensor>(tf.ResizeNearestNeighborGrad, { dy: single(dy), images }, attrs) }),
  },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved: Saved, attrs) => {
      const axis = tf.util.parseAxisParam(attrs['axis'] as number, saved[0].shape)[0];
      const parts = tf.split(single(dy), saved.map((s) => s.shape[axis]), axis);
      return Object.fromEntries(parts.map((part, i) => [String(i), () => part]));
    },
  },
];

/** Registers the gradients above where none is registered yet. Idempotent. */
export function registerTestGradients(): void {
  for (const config of CONFIGS) if (tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
}
