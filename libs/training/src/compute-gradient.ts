import * as tf from '@tensorflow/tfjs-core';
import { diffusionLoss, type DiffusionSchedule, type TrainingInputs } from '@ddpm/diffusion-core';
import { unflattenWeights, type UNet } from '@ddpm/unet';
import type { BucketLayout } from './bucket-layout.ts';

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
 * Does not: clip, average across workers or apply the gradient; copy a bucket (onBucket reads `into` in place, and
 * must copy what it keeps past the next call that writes `into`). Without `stream` it adds no work to backprop.
 */
export function computeGradient(
  model: UNet,
  schedule: DiffusionSchedule,
  params: Float32Array,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
  options: { readonly into?: Float32Array; readonly stream?: GradientStream } = {},
): GradientResult {
  const { into, stream } = options;
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
    return streamedGradient(model, schedule, params, x0, inputs, into, stream);
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

/** Where each parameter tensor sits in the flat buffer and which bucket waits for it. */
interface BucketPlan {
  /** Element offset of each tensor. */
  readonly offsets: readonly number[];
  /** Bucket of each tensor, -1 for zero-size tensors (no bucket waits for them). */
  readonly bucketOf: readonly number[];
  /** Number of tensors with values in each bucket. */
  readonly tensorsIn: readonly number[];
}

/** Checks that the layout's starts fall on tensor boundaries (Error naming the bad start) and assigns tensors to buckets. */
function planBuckets(sizes: readonly number[], total: number, layout: BucketLayout): BucketPlan {
  const offsets: number[] = [];
  const boundaries = new Set<number>();
  let offset = 0;
  for (const size of sizes) {
    offsets.push(offset);
    boundaries.add(offset);
    offset += size;
  }
  const { starts } = layout;
  if (layout.total !== total) {
    throw new Error(
      `computeGradient: stream.layout covers ${layout.total} parameters but the model has ${total}; build it with BucketLayout.forParameters(model.parameterSizes(), capBytes).`,
    );
  }
  starts.forEach((start, b) => {
    if (!boundaries.has(start)) {
      throw new Error(
        `computeGradient: stream.layout start ${b} (${start}) is not where a parameter tensor of the ${total}-parameter model starts; build it with BucketLayout.forParameters(model.parameterSizes(), capBytes).`,
      );
    }
  });
  const bucketOf: number[] = [];
  const tensorsIn = new Array<number>(starts.length).fill(0);
  let bucket = 0;
  sizes.forEach((size, i) => {
    while (bucket + 1 < starts.length && starts[bucket + 1] <= offsets[i]) bucket++;
    bucketOf.push(size === 0 ? -1 : bucket);
    if (size > 0) tensorsIn[bucket]++;
  });
  return { offsets, bucketOf, tensorsIn };
}

/**
 * computeGradient with a stream. Each weight goes through a tf.customGrad identity whose gradient function receives
 * that weight's fully accumulated gradient: the identity's output is the only tensor the model computes with, and
 * backprop walks the tape in reverse, so every consumer of it has been processed first. The function copies the
 * gradient into `into` and reports the bucket once all its tensors are in.
 *
 * Where the identity sits on the tape decides when it fires, so it must be created right before the weight's first
 * use, not up front (identities recorded before the forward pass would all fire at the very end of backprop):
 * UNet.apply's onWeight hook creates it there. After backprop, each weight's returned gradient must be the very tensor
 * its identity received, or part of the gradient bypassed the identity and a bucket was reported incomplete: that
 * throws (a bug in the hook's placement). A weight whose identity never fired is written from the returned gradients,
 * and buckets not yet reported are reported, the highest first.
 */
function streamedGradient(
  model: UNet,
  schedule: DiffusionSchedule,
  params: Float32Array,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
  into: Float32Array,
  stream: GradientStream,
): GradientResult {
  const sizes = model.parameterSizes();
  const { offsets, bucketOf, tensorsIn } = planBuckets(sizes, params.length, stream.layout);
  const pending = [...tensorsIn];
  const reported = new Array<boolean>(pending.length).fill(false);
  const received = new Array<tf.Tensor | undefined>(sizes.length);
  const identities: tf.Tensor[] = [];
  let lossTensor: tf.Scalar | undefined;
  let loss: number | undefined;
  let failure: { readonly error: unknown } | undefined;

  const lossValue = (): number => {
    if (loss === undefined) {
      if (lossTensor === undefined)
        throw new Error(
          'computeGradient: a gradient arrived before the forward pass returned its loss; this is a bug in compute-gradient.ts.',
        );
      loss = lossTensor.dataSync()[0];
    }
    return loss;
  };
  const report = (bucket: number): void => {
    reported[bucket] = true;
    if (failure !== undefined) return;
    try {
      stream.onBucket(bucket, lossValue());
    } catch (error) {
      failure = { error };
    }
  };
  const write = (i: number, gradient: tf.Tensor): void => {
    into.set(gradient.dataSync() as Float32Array, offsets[i]);
  };
  /** Weight i through an identity whose gradient function receives the weight's whole gradient. */
  const hookWeight = (i: number, weight: tf.Tensor): tf.Tensor =>
    tf.customGrad((...args) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        received[i] = dy;
        write(i, dy);
        const bucket = bucketOf[i];
        if (bucket >= 0 && --pending[bucket] === 0) report(bucket);
        return dy;
      },
    }))(weight);

  const weights = unflattenWeights(model.specs, params);
  try {
    const onWeight = (i: number, weight: tf.Tensor): tf.Tensor => {
      const identity = tf.keep(hookWeight(i, weight));
      identities.push(identity);
      return identity;
    };
    const lossOf = (...w: tf.Tensor[]): tf.Scalar => {
      lossTensor = diffusionLoss(
        schedule,
        (xt, t) => model.apply(w, xt, t, { dropoutKeys: inputs.keys, onWeight }),
        x0,
        inputs,
      );
      return lossTensor;
    };
    const { value, grads } = tf.valueAndGrads(lossOf)(weights);
    try {
      grads.forEach((gradient, i) => {
        if (received[i] === undefined) write(i, gradient);
        else if (received[i] !== gradient) {
          throw new Error(
            `computeGradient: part of the gradient of '${model.specs[i].name}' bypassed its stream hook, so its bucket was reported incomplete; UNet.apply must read each weight once before its forward pass (see streamedGradient).`,
          );
        }
      });
      for (let b = reported.length - 1; b >= 0; b--) if (!reported[b]) report(b);
      if (failure !== undefined) throw failure.error;
      return { loss: lossValue(), gradient: into, samples: x0.shape[0] };
    } finally {
      tf.dispose([value, ...grads]);
    }
  } finally {
    tf.dispose(weights);
    tf.dispose(identities);
  }
}
