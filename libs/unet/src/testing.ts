import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { type UNetConfig } from './config.ts';
import { type UNet } from './unet.ts';

/**
 * Test fixtures shared by this lib's *.test.ts files (not exported from index.ts).
 * TINY_CONFIG exercises every block type (resblocks with and without nin shortcut, attention on the down, middle
 * and up paths, down- and upsampling) while staying fast on the cpu backend.
 */
export const TINY_CONFIG: UNetConfig = {
  imageSize: 8,
  inChannels: 2,
  outChannels: 2,
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0.3,
  groups: 4,
};

/** DDPM initial weights plus `scale`·N(0,1) noise everywhere, so no layer is zero and every weight matters. */
export function perturbedWeights(unet: UNet, seed: number, scale = 0.1): tf.Tensor[] {
  const rng = new Rng(seed + 1000);
  const initial = unet.initialize(seed);
  const perturbed = initial.map((w) => tf.tidy(() => tf.add(w, tf.mul(rng.normal(w.shape), scale))));
  tf.dispose(initial);
  return perturbed;
}

/** A batch of standard normal images for `config` and the given timesteps. The caller disposes both. */
export function randomInputs(
  config: UNetConfig,
  timesteps: number[],
  seed: number,
): { xt: tf.Tensor4D; t: tf.Tensor1D } {
  const xt = new Rng(seed).normal<tf.Tensor4D>([
    timesteps.length,
    config.imageSize,
    config.imageSize,
    config.inChannels,
  ]);
  return { xt, t: tf.tensor1d(timesteps, 'int32') };
}

/** max |a − b| over two equally shaped tensors. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
