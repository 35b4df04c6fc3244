import * as tf from '@tensorflow/tfjs-core';

/** The kernels qSample and diffusionLoss put on the tape, whose gradients tf.grads needs. */
const LOSS_KERNELS = [tf.Add, tf.Multiply, tf.SquaredDifference, tf.Mean, tf.Reshape, tf.Cast] as const;

/**
 * Checks that the gradients of the kernels qSample and diffusionLoss use are registered, and throws an Error that
 * says how to register them if not.
 *
 * Why a check and not a registration: this is a tfjs-core-only library, and tfjs-core's Node bundle registers no
 * gradients. The caller registers all of them once, by importing @ddpm/backend (selectBackend) or
 * `import '@tensorflow/tfjs'`, before the first tf.grads.
 * Promises: returns without side effects when every needed gradient is registered.
 * Does not: register anything, or check the noise model's own kernels. diffusionLoss and qSample do not call it (they
 * also run without gradients); call it before training to fail early with a clear message.
 */
export function ensureLossGradientsRegistered(): void {
  const missing = LOSS_KERNELS.filter((kernel) => tf.getGradient(kernel) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `tf.grads through diffusionLoss needs the gradients of ${missing.join(', ')}, which are not registered ` +
        "(tfjs-core's Node bundle registers none). Import '@ddpm/backend' and call selectBackend, or add " +
        "`import '@tensorflow/tfjs'` once at the start of your program.",
    );
  }
}
