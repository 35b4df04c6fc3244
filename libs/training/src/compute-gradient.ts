import * as tf from '@tensorflow/tfjs-core';
import { diffusionLoss, type DiffusionSchedule, type TrainingInputs } from '@ddpm/diffusion-core';
import { unflattenWeights, type UNet } from '@ddpm/unet';
import type { BucketLayout } from './bucket-layout.ts';
import { streamedGradient } from './streamed-gradient.ts';

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
 * Streams a gradient while backprop computes it: see {@link computeGradient}'s `stream` option.
 */
export interface GradientStream {
  /** BucketLayout.forParameters(model.parameterSizes(), ...): every start must fall on a parameter tensor boundary. */
  readonly layout: BucketLayout;
  /** Called exactly once per bucket, as soon as every gradient in the bucket's range of `into` is final; `loss` is the batch's mean loss. */
  readonly onBucket: (bucket: number, loss: number) => void;
}

/**
 * How gradients leave the backend. 'async' (`await data()`): the only way on webgpu (whose synchronous reads throw),
 * and on GPU backends it lets one bucket's download overlap the next backward op. 'sync' (dataSync): for backends
 * whose tensors already sit in CPU memory (cpu, wasm), where a read is a copy and `data()` would only resolve after
 * the whole backward pass, so buckets could no longer leave during backprop.
 */
export type GradientReads = 'sync' | 'async';

/** The reads that suit the current backend (see {@link GradientReads}). */
export function defaultReads(): GradientReads {
  return tf.getBackend() === 'cpu' || tf.getBackend() === 'wasm' ? 'sync' : 'async';
}

/** What {@link computeGradient} may be given besides its inputs. */
export interface GradientOptions {
  readonly into?: Float32Array;
  readonly stream?: GradientStream;
  /** Default: {@link defaultReads}. Both give the same bits. */
  readonly reads?: GradientReads;
}

/**
 * One local batch's loss and gradient: forward noising in closed form, U-Net ε prediction, the simplified loss, and
 * backpropagation to every parameter.
 *
 * Promises: all tensors it creates are released before it returns; the gradient is written to `options.into` when
 * given (a buffer the caller reuses across steps: fresh memory is expensive to touch), otherwise to a new buffer.
 * With `options.stream` (which needs `into`), each bucket of `into` (stream.layout) is reported
 * through stream.onBucket as soon as backprop has finished every gradient in it, while backprop carries on with the
 * rest, so the caller can send it during the backward pass: every bucket exactly once, its range of `into` already
 * final, and the values bit for bit those of the call without `stream`. Buckets finish roughly from the last
 * (highest offsets) to the first, in the order backprop finishes their parameters.
 * Preconditions: `params` holds model.parameterCount() floats; `x0` is [batch, h, w, c] in [-1, 1] matching the
 * model's image shape; `inputs` holds one timestep and one image of noise per sample. The model is in training mode
 * when `inputs.keys` is set (drawTrainingInputs sets it): dropout masks per sample, so a gradient is the same
 * however the global batch is split. stream.layout falls on parameter tensor
 * boundaries (checked: Error). onBucket runs inside backprop: it must not dispose tensors it did not create, and it
 * should return quickly (hand the bytes to a socket, do not wait) as backprop waits for it. Should it throw, no
 * further bucket is reported, backprop runs to its end (so tfjs releases its tensors) and the error is rethrown.
 * Every parameter must reach the loss: otherwise tf.valueAndGrads throws, as without a stream, but possibly after
 * some buckets were reported, so a caller that streams must treat any throw as a failed step.
 * With `reads: 'async'` buckets are reported as their downloads complete, after backprop has been dispatched.
 * Does not: clip, average across workers or apply the gradient; copy a bucket (onBucket reads `into` in place, and
 * must copy what it keeps past the next call that writes `into`). Without `stream` it adds no work to backprop.
 */
export async function computeGradient(
  model: UNet,
  schedule: DiffusionSchedule,
  params: Float32Array,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
  options: GradientOptions = {},
): Promise<GradientResult> {
  const { into, stream } = options;
  const reads = options.reads ?? defaultReads();
  if (into !== undefined && into.length !== params.length) {
    throw new RangeError(
      `computeGradient: the output buffer holds ${into.length} values but the model has ${params.length} parameters; allocate one of the model's size.`,
    );
  }
  if (stream !== undefined) {
    if (into === undefined) {
      throw new Error(
        "computeGradient: options.stream needs options.into, the buffer onBucket reads its ranges from; pass a Float32Array of the model's size.",
      );
    }
    return streamedGradient(model, schedule, params, x0, inputs, into, stream, reads);
  }
  const weights = unflattenWeights(model.specs, params, { copy: false });
  try {
    const lossOf = (...w: tf.Tensor[]): tf.Scalar =>
      diffusionLoss(schedule, (xt, t) => model.apply(w, xt, t, { dropoutKeys: inputs.keys }), x0, inputs);
    const { value, grads } = tf.valueAndGrads(lossOf)(weights);
    try {
      const gradient = into ?? new Float32Array(params.length);
      const read = (t: tf.Tensor): Float32Array | Promise<Float32Array> =>
        reads === 'sync' ? (t.dataSync() as Float32Array) : (t.data() as Promise<Float32Array>);
      let offset = 0;
      for (const g of grads) {
        gradient.set(await read(g), offset);
        offset += g.size;
      }
      const loss = (await read(value))[0];
      return { loss, gradient, samples: x0.shape[0] };
    } finally {
      tf.dispose([value, ...grads]);
    }
  } finally {
    tf.dispose(weights);
  }
}
