import * as tf from '@tensorflow/tfjs-core';
import { diffusionLoss, type DiffusionSchedule, type TrainingInputs } from '@ddpm/diffusion-core';
import { unflattenWeights, type UNet } from '@ddpm/unet';
import type { BucketLayout } from './bucket-layout.ts';
import type { GradientReads, GradientResult, GradientStream } from './compute-gradient.ts';

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
 * gradient into `into` (at once with 'sync' reads; with 'async' reads it starts the download, which completes while
 * the device runs the rest) and reports the bucket once all its tensors are in.
 *
 * Where the identity sits on the tape decides when it fires, so it must be created right before the weight's first
 * use, not up front (identities recorded before the forward pass would all fire at the very end of backprop):
 * UNet.apply's onWeight hook creates it there. After backprop, each weight's returned gradient must be the very tensor
 * its identity received, or part of the gradient bypassed the identity and a bucket was reported incomplete: that
 * throws (a bug in the hook's placement). A weight whose identity never fired is written from the returned gradients,
 * and buckets not yet reported are reported, the highest first. The gradients are disposed only after every read.
 */
export async function streamedGradient(
  model: UNet,
  schedule: DiffusionSchedule,
  params: Float32Array,
  x0: tf.Tensor4D,
  inputs: TrainingInputs,
  into: Float32Array,
  stream: GradientStream,
  reads: GradientReads,
): Promise<GradientResult> {
  const sizes = model.parameterSizes();
  const { offsets, bucketOf, tensorsIn } = planBuckets(sizes, params.length, stream.layout);
  const pending = [...tensorsIn];
  const reported = new Array<boolean>(pending.length).fill(false);
  const received = new Array<tf.Tensor | undefined>(sizes.length);
  const identities: tf.Tensor[] = [];
  const downloads: Promise<void>[] = [];
  let lossTensor: tf.Scalar | undefined;
  let loss: number | Promise<number> | undefined;
  let failure: { readonly error: unknown } | undefined;

  /** The batch's loss: read once, the first time a gradient arrives (the forward pass has returned by then). */
  const lossValue = (): number | Promise<number> => {
    if (loss === undefined) {
      if (lossTensor === undefined)
        throw new Error(
          'computeGradient: a gradient arrived before the forward pass returned its loss; this is a bug in streamed-gradient.ts.',
        );
      loss = reads === 'sync' ? lossTensor.dataSync()[0] : lossTensor.data().then((values) => values[0]);
    }
    return loss;
  };
  const report = (bucket: number, lossNow: number): void => {
    reported[bucket] = true;
    if (failure !== undefined) return;
    try {
      stream.onBucket(bucket, lossNow);
    } catch (error) {
      failure = { error };
    }
  };
  /** Writes weight i's gradient into `into`; then reports its bucket if it was the bucket's last tensor. */
  const write = (i: number, gradient: tf.Tensor, reportBucket: boolean): void => {
    const done = (values: Float32Array, lossNow: number): void => {
      into.set(values, offsets[i]);
      const bucket = bucketOf[i];
      if (reportBucket && bucket >= 0 && --pending[bucket] === 0) report(bucket, lossNow);
    };
    const lossNow = lossValue();
    if (reads === 'sync' && typeof lossNow === 'number') return done(gradient.dataSync() as Float32Array, lossNow);
    const values = gradient.data() as Promise<Float32Array>;
    downloads.push(Promise.all([values, lossNow]).then(([v, l]) => done(v, l)));
  };
  /** Weight i through an identity whose gradient function receives the weight's whole gradient. */
  const hookWeight = (i: number, weight: tf.Tensor): tf.Tensor =>
    tf.customGrad((...args) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        received[i] = dy;
        write(i, dy, true);
        return dy;
      },
    }))(weight);

  const weights = unflattenWeights(model.specs, params, { copy: false });
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
        if (received[i] === undefined) write(i, gradient, false);
        else if (received[i] !== gradient) {
          throw new Error(
            `computeGradient: part of the gradient of '${model.specs[i].name}' bypassed its stream hook, so its bucket was reported incomplete; UNet.apply must read each weight once before its forward pass (see streamedGradient).`,
          );
        }
      });
      await Promise.all(downloads);
      const lossNow = await lossValue();
      for (let b = reported.length - 1; b >= 0; b--) if (!reported[b]) report(b, lossNow);
      if (failure !== undefined) throw failure.error;
      return { loss: lossNow, gradient: into, samples: x0.shape[0] };
    } finally {
      await Promise.allSettled(downloads);
      tf.dispose([value, ...grads]);
    }
  } finally {
    tf.dispose(weights);
    tf.dispose(identities);
  }
}
