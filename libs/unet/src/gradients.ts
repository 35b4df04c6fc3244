import * as tf from '@tensorflow/tfjs-core';

/** Kernels of the forward pass whose gradients tf.grads looks up (GroupNorm, upsampling and the fused conv/dense ops bring their own). */
const UNET_KERNELS = [
  tf.Conv2D,
  tf.Add,
  tf.Multiply,
  tf.Sigmoid,
  tf.Reshape,
  tf.Softmax,
  tf.BatchMatMul,
  tf.Slice,
  tf.Sum,
] as const;

/**
 * Checks that the gradients of the kernels UNet.apply puts on the tape are registered, and throws an Error that
 * says how to register them if not.
 *
 * Why a check and not a registration: this is a tfjs-core-only library, and tfjs-core's Node bundle registers no
 * gradients. The caller registers all of them once, by importing @ddpm/backend (selectBackend) or
 * `import '@tensorflow/tfjs'`, before the first tf.grads.
 * Promises: returns without side effects when every needed gradient is registered.
 * Does not: register anything. The UNet does not call it (evaluation and sampling need no gradients); training code
 * may call it to fail early with this message instead of tfjs's "gradient function not found".
 */
export function ensureGradientsRegistered(): void {
  const missing = UNET_KERNELS.filter((kernel) => tf.getGradient(kernel) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `tf.grads through the U-Net needs the gradients of ${missing.join(', ')}, which are not registered ` +
        "(tfjs-core's Node bundle registers none). Import '@ddpm/backend' and call selectBackend, or add " +
        "`import '@tensorflow/tfjs'` once at the start of your program.",
    );
  }
}
