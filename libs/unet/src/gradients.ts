import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient definitions for every kernel the U-Net forward pass and the DDPM loss put on the tape.
 *
 * Why this exists: the Node bundle of @tensorflow/tfjs-core (what `import '@tensorflow/tfjs-core'` loads here)
 * registers no gradients at all; the union package @tensorflow/tfjs normally does it, and its ESM
 * `dist/register_all_gradients.js` cannot be imported from Node ESM (directory imports). Without these, tf.grads
 * fails with "gradient function not found for Sum".
 * The formulas are those of tfjs-core 4.22 (src/gradients/*_grad.ts), restated with public ops; Rsqrt uses its
 * output (−y³/2) instead of a Pow, which the wasm backend runs faster.
 */

type Saved = tf.Tensor[];
type Attrs = tf.NamedAttrMap;

function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error('U-Net gradients: a single-output kernel received several upstream gradients.');
  return dy;
}

/** Sums a broadcast gradient back to `shape` (the input's shape before broadcasting). */
function unbroadcast(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, grad.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(grad, axes) : grad, shape);
}

/** Gradient of a sum (or mean) over attrs.axis: dy (divided by the reduced count) broadcast back over those axes. */
function reductionGrad(dy: tf.Tensor, x: tf.Tensor, attrs: Attrs, mean: boolean): tf.Tensor {
  const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
  const expanded = x.shape.slice();
  let reduced = 1;
  for (const axis of axes) {
    expanded[axis] = 1;
    reduced *= x.shape[axis];
  }
  // A broadcasting Multiply, not tf.broadcastTo: the wasm backend's Tile is several times slower.
  const scaled = mean ? tf.div(dy, reduced) : dy;
  return tf.mul(tf.reshape(scaled, expanded), tf.ones(x.shape, 'float32'));
}

const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: tf.Add,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => unbroadcast(single(dy), b.shape) }),
  },
  {
    kernelName: tf.Sub,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => tf.neg(unbroadcast(single(dy), b.shape)) }),
  },
  {
    kernelName: tf.Multiply,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => unbroadcast(tf.mul(single(dy), b), a.shape),
      b: () => unbroadcast(tf.mul(single(dy), a), b.shape),
    }),
  },
  {
    kernelName: tf.RealDiv,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => unbroadcast(tf.div(single(dy), tf.cast(b, 'float32')), a.shape),
      b: () => tf.neg(tf.div(unbroadcast(tf.mul(single(dy), a), b.shape), tf.square(tf.cast(b, 'float32')))),
    }),
  },
  {
    kernelName: tf.SquaredDifference,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => unbroadcast(tf.mul(single(dy), tf.mul(tf.sub(a, b), 2)), a.shape),
      b: () => unbroadcast(tf.mul(single(dy), tf.mul(tf.sub(b, a), 2)), b.shape),
    }),
  },
  { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(single(dy)) }) },
  { kernelName: tf.Square, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.mul(single(dy), tf.mul(x, 2)) }) },
  {
    kernelName: tf.Rsqrt,
    outputsToSave: [true],
    gradFunc: (dy, [y]: Saved) => ({ x: () => tf.mul(single(dy), tf.mul(tf.mul(tf.square(y), y), -0.5)) }),
  },
  {
    kernelName: tf.Sigmoid,
    outputsToSave: [true],
    gradFunc: (dy, [y]: Saved) => ({ x: () => tf.mul(single(dy), tf.mul(y, tf.sub(1, y))) }),
  },
  { kernelName: tf.Reshape, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.reshape(single(dy), x.shape) }) },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => single(dy).clone() }) },
  { kernelName: tf.Identity, gradFunc: (dy) => ({ x: () => tf.cast(single(dy), 'float32') }) },
  { kernelName: tf.Mean, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved, attrs) => ({ x: () => reductionGrad(single(dy), x, attrs, true) }) },
  { kernelName: tf.Sum, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved, attrs) => ({ x: () => reductionGrad(single(dy), x, attrs, false) }) },
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
      const transposeA = attrs['transposeA'] === true;
      const transposeB = attrs['transposeB'] === true;
      if (!transposeA && !transposeB) return { a: () => tf.matMul(dy, b, false, true), b: () => tf.matMul(a, dy, true, false) };
      if (!transposeA && transposeB) return { a: () => tf.matMul(dy, b, false, false), b: () => tf.matMul(dy, a, true, false) };
      if (transposeA && !transposeB) return { a: () => tf.matMul(b, dy, false, true), b: () => tf.matMul(a, dy, false, false) };
      return { a: () => tf.matMul(b, dy, true, true), b: () => tf.matMul(dy, a, true, true) };
    },
  },
  {
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dyIn, [x, filter]: Saved, attrs) => {
      const dilations = attrs['dilations'];
      const dilated = Array.isArray(dilations) ? dilations.some((d) => d !== 1) : dilations !== undefined && dilations !== 1;
      if (dilated) throw new Error(`Conv2D gradient: dilations [${String(dilations)}] are not supported; use dilation 1.`);
      const dy = single(dyIn);
      const common = { strides: attrs['strides'], pad: attrs['pad'], dataFormat: attrs['dataFormat'], dimRoundingMode: attrs['dimRoundingMode'] } as Attrs;
      return {
        x: () => tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropInput, { dy, filter }, { ...common, inputShape: x.shape }),
        filter: () => tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: filter.shape }),
      };
    },
  },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved: Saved, attrs) => {
      // Slices, not tf.split: the wasm backend's SplitV is a slow JavaScript loop.
      const grad = single(dy);
      const axis = tf.util.parseAxisParam(attrs['axis'] as number, saved[0].shape)[0];
      const begin = grad.shape.map(() => 0);
      return Object.fromEntries(
        saved.map((input, i) => {
          const start = begin.slice();
          begin[axis] += input.shape[axis];
          return [String(i), () => tf.slice(grad, start, input.shape)];
        }),
      );
    },
  },
];

let registered = false;

/**
 * Registers the gradients above for every kernel that has none yet; idempotent and cheap after the first call.
 *
 * Promises: afterwards tf.grads works through UNet.apply, groupNorm and a squared-error loss on any backend that
 * has the forward kernels plus Conv2DBackpropInput and Conv2DBackpropFilter.
 * Does not: override a gradient someone else registered (a full registration, e.g. @tensorflow/tfjs, wins).
 */
export function ensureGradientsRegistered(): void {
  if (registered) return;
  for (const config of GRADIENTS) {
    if (tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
  }
  registered = true;
}
