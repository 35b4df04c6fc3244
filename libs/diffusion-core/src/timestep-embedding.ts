import * as tf from '@tensorflow/tfjs-core';

/**
 * Sinusoidal timestep embedding, as in DDPM (and the Transformer's positional encoding).
 *
 * Returns a float32 tensor [batch, dim]: the first dim/2 columns are sin(t·f_i), the next dim/2 are cos(t·f_i),
 * with f_i = exp(−ln(10000)·i/(dim/2 − 1)). For odd `dim` the last column is zero.
 * Preconditions: `t` is a rank-1 tensor of timesteps (int32 or float32); dim >= 4.
 * Does not: dispose `t`; the caller owns both tensors.
 */
export function timestepEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 4)
    throw new RangeError(`timestepEmbedding needs an integer dim >= 4, got ${dim}.`);
  return tf.tidy(() => {
    const half = Math.floor(dim / 2);
    const scale = Math.log(10000) / (half - 1);
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp(-scale * i);
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    let emb = tf.concat([tf.sin(args), tf.cos(args)], 1);
    if (dim % 2 === 1)
      emb = tf.pad(emb, [
        [0, 0],
        [0, 1],
      ]);
    return emb as tf.Tensor2D;
  });
}
