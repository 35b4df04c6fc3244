import * as tf from '@tensorflow/tfjs-core';
import { diffusionLoss, type DiffusionSchedule, type TrainingInputs } from '@ddpm/diffusion-core';
import { unflattenWeights, type UNet } from '@ddpm/unet';

/** A worker's contribution to one step. */
export interface GradientResult {
  /** Mean loss over the local batch. */
  readonly loss: number;
  /** d(mean loss)/d(parameters), flat, in the model's parameter order. */
  readonly gradient: Float32Array;
  /** Number of samples the gradient averages over (the weight of this contribution in a global mean). */
  readonly samples: number;
}

/**
 * One local batch's loss and gradient: forward noising in closed form, U-Net ε prediction, the simplified loss, and
 * backpropagation to every parameter.
 *
 * Promises: all tensors it creates are released before it returns; the gradient is written to `options.into` when
 * given (a buffer the caller reuses across steps: fresh memory is expensive to touch), otherwise to a new buffer.
 * Preconditions: `params` holds model.parameterCount() floats; `x0` is [batch, h, w, c] in [-1, 1] matching the
 * model's image shape; `inputs` holds one timestep and one image of noise per sample. The model is in training mode
 * when `inputs.keys` is set (drawTrainingInputs sets it): dropout masks per sample, so a gradient is the same
 * however the global batch is split.
 * Does not: clip, average across workers or apply the gradient.
 */
export function computeGradient(
  model: UNet,
  schedule: DiffusionSchedule,
  params: Float32Array,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
  options: { readonly into?: Float32Array } = {},
): GradientResult {
  const { into } = options;
  if (into !== undefined && into.length !== params.length) {
    throw new RangeError(`computeGradient: the output buffer holds ${into.length} values but the model has ${params.length} parameters; allocate one of the model's size.`);
  }
  const weights = unflattenWeights(model.specs, params);
  try {
    const lossOf = (...w: tf.Tensor[]): tf.Scalar =>
      diffusionLoss(schedule, (xt, t) => model.apply(w, xt, t, { dropoutKeys: inputs.keys }), x0, inputs);
    const { value, grads } = tf.valueAndGrads(lossOf)(weights);
    const gradient = into ?? new Float32Array(params.length);
    let offset = 0;
    for (const g of grads) {
      gradient.set(g.dataSync() as Float32Array, offset);
      offset += g.size;
      g.dispose();
    }
    const loss = value.dataSync()[0];
    value.dispose();
    return { loss, gradient, samples: x0.shape[0] };
  } finally {
    tf.dispose(weights);
  }
}
