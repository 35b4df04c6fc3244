import * as tf from '@tensorflow/tfjs-core';
import type { DiffusionSchedule, ScheduleTable } from './schedule.ts';
import { checkBatch, checkSameShape } from './tensor-checks.ts';

/** The Gaussian q(x_{t−1} | x_t, x_0): a mean per element and a variance per sample. */
export interface Posterior {
  /** [batch, height, width, channels], float32. */
  readonly mean: tf.Tensor4D;
  /** β̃_t per sample, shape [batch, 1, 1, 1] (broadcasts against `mean`), float32. Zero where t = 0. */
  readonly variance: tf.Tensor4D;
  /** log β̃_t per sample with β̃_0 replaced by β̃_1 (finite everywhere), shape [batch, 1, 1, 1], float32. */
  readonly logVariance: tf.Tensor4D;
}

/**
 * Gathers `table[t[i]]` for every sample i, as a float32 tensor of shape [batch, 1, 1, 1] that broadcasts over images.
 *
 * Preconditions: `t` is a rank-1 int32 tensor with values in [0, table.length). The cpu backend throws on an
 * out-of-range index; other backends may not check, so validate timesteps before they reach here.
 * Does not: dispose `t`. The caller owns the returned tensor.
 */
export function coefficientAt(table: ScheduleTable, t: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.gather(tf.tensor1d(Float32Array.from(table), 'float32'), t), [-1, 1, 1, 1]));
}

/**
 * Samples the forward process in closed form: x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε (Ho et al. 2020, eq. 4).
 *
 * Promises: a float32 tensor with the shape of `x0` that the caller owns; differentiable in x0 and noise (usable inside
 * tf.grads once the caller has registered tfjs's gradients: importing @ddpm/backend or @tensorflow/tfjs does).
 * Preconditions: `x0` and `noise` have the same shape [batch, h, w, c]; `t` is int32 of length batch with values in [0, T).
 * Does not: draw the noise (pass it in, so the caller's Rng controls every random number) nor dispose its inputs.
 */
export function qSample(schedule: DiffusionSchedule, x0: tf.Tensor4D, t: tf.Tensor1D, noise: tf.Tensor4D): tf.Tensor4D {
  checkBatch('qSample', x0, t);
  checkSameShape('qSample', 'noise', noise, x0);
  return tf.tidy(() =>
    tf.add(
      tf.mul(coefficientAt(schedule.sqrtAlphasCumprod, t), tf.cast(x0, 'float32')),
      tf.mul(coefficientAt(schedule.sqrtOneMinusAlphasCumprod, t), tf.cast(noise, 'float32')),
    ),
  );
}

/**
 * The posterior of the forward process, q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t·I) (Ho et al. 2020, eqs. 6-7):
 * μ̃_t = posteriorMeanCoef1[t]·x_0 + posteriorMeanCoef2[t]·x_t.
 *
 * Promises: three float32 tensors the caller owns (see {@link Posterior} for their shapes).
 * Preconditions: `x0` and `xt` have the same shape [batch, h, w, c]; `t` is int32 of length batch with values in [0, T).
 * Does not: dispose its inputs.
 */
export function qPosterior(schedule: DiffusionSchedule, x0: tf.Tensor4D, xt: tf.Tensor4D, t: tf.Tensor1D): Posterior {
  checkBatch('qPosterior', x0, t);
  checkSameShape('qPosterior', 'xt', xt, x0);
  const mean = tf.tidy(() =>
    tf.add<tf.Tensor4D>(
      tf.mul(coefficientAt(schedule.posteriorMeanCoef1, t), tf.cast(x0, 'float32')),
      tf.mul(coefficientAt(schedule.posteriorMeanCoef2, t), tf.cast(xt, 'float32')),
    ),
  );
  return {
    mean,
    variance: coefficientAt(schedule.posteriorVariance, t),
    logVariance: coefficientAt(schedule.posteriorLogVarianceClipped, t),
  };
}
