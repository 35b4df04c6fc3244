import * as tf from '@tensorflow/tfjs-core';

/*
 * Gradients of the kernels that qSample and diffusionLoss put on the tape.
 *
 * Why this exists: the Node bundle of @tensorflow/tfjs-core registers no gradients (tf.grads fails with "gradient
 * function not found for Mean"), and its ESM register_all_gradients.js cannot be imported from Node ESM. The formulas
 * are those of tfjs-core 4.22 (src/gradients/*_grad.ts), restated with public ops. @ddpm/unet registers the same
 * kernels the same way; whichever runs first wins and the other leaves the entry alone.
 */

type Saved = tf.Tensor[];

function single(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(dy)) throw new Error('diffusion-core gradients: a single-output kernel received several upstream gradients.');
  return dy;
}

/** Sums a broadcast gradient back to `shape`, the input's shape before broadcasting. */
function unbroadcast(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, grad.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(grad, axes) : grad, shape);
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
      a: () => unbroadcast(tf.mul(single(dy), tf.cast(b, 'float32')), a.shape),
      b: () => unbroadcast(tf.mul(single(dy), tf.cast(a, 'float32')), b.shape),
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
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved, attrs) => ({
      x: () => {
        const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
        const expanded = x.shape.slice();
        let reduced = 1;
        for (const axis of axes) {
          expanded[axis] = 1;
          reduced *= x.shape[axis];
        }
        return tf.div(tf.mul(tf.reshape(single(dy), expanded), tf.ones(x.shape, 'float32')), reduced);
      },
    }),
  },
  { kernelName: tf.Reshape, inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.reshape(single(dy), x.shape) }) },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => single(dy).clone() }) },
];

let registered = false;

/**
 * Registers gradients for Add, Sub, Multiply, SquaredDifference, Mean, Reshape and Cast where none is registered yet,
 * so that tf.grads / tf.variableGrads work through qSample and diffusionLoss. Idempotent; qSample and diffusionLoss call
 * it themselves, so callers need not.
 * Does not: register gradients for the noise model's own kernels (the model's library must), nor override a gradient
 * someone else registered (a full registration such as @tensorflow/tfjs wins).
 */
export function ensureLossGradientsRegistered(): void {
  if (registered) return;
  for (const config of GRADIENTS) {
    if (tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
  }
  registered = true;
}
