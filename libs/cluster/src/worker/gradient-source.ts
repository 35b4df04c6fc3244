import type * as tf from '@tensorflow/tfjs-core';
import { createDataset, gatherBatchTensor, type Dataset } from '@ddpm/data';
import { expectTensor, TENSOR_NAMES, type DecodedMessage, type TensorInput } from '@ddpm/protocol';
import { checkWebGpuTensorBytes } from '@ddpm/backend';
import { computeGradient, drawTrainingInputs } from '@ddpm/training';
import { largestActivationElements } from '@ddpm/unet';
import type { Replica } from './replica.ts';

type StepStart = Extract<DecodedMessage, { kind: 'stepStart' }>;

/** One step's work for a gradient source. */
export interface GradientJob {
  readonly replica: Replica;
  readonly start: StepStart;
  readonly indices: Uint32Array;
  /**
   * Call once per bucket, as soon as replica.gradient's range of that bucket is final (last bucket first when the
   * source streams); `loss` is the batch's mean loss; `extra` tensors travel in the same Gradient (the inner state of
   * --sync-every).
   */
  readonly onBucket: (bucket: number, loss: number, extra?: readonly TensorInput[]) => void;
  /** The source sets the milliseconds it spent loading the batch, before it reports any bucket. */
  readonly timing: { dataMs: number };
}

/**
 * Computes a step's gradient into job.replica.gradient and reports every bucket through job.onBucket. The worker runs
 * whichever source it is given: the model, a benchmark's sleeps, or a test's faults around either.
 */
export interface GradientSource {
  compute(job: GradientJob): Promise<void>;
}

/**
 * The real compute: the batch (from the worker's dataset, or inline in the StepStart), t and ε drawn per sample,
 * closed-form noising, U-Net ε prediction, the simplified loss and backprop, streaming each bucket as it is final.
 * On webgpu a step whose largest activation would exceed the device's buffer limit is refused before anything is
 * allocated (RangeError naming the size, the limit and --batch). Precondition: a tfjs backend is set.
 */
export class ModelGradients implements GradientSource {
  constructor(private readonly dataset: Dataset | undefined) {}

  async compute({ replica, start, indices, onBucket, timing }: GradientJob): Promise<void> {
    const started = performance.now();
    const { model, schedule, layout } = replica;
    // A tensor over a WebGPU device's buffer limit would give a wrong result, not an error: refuse it up front.
    const bytes = 4 * indices.length * largestActivationElements(model.config);
    checkWebGpuTensorBytes(bytes, `The largest activation of this U-Net at a local batch of ${indices.length}`);
    const { imageSize, inChannels } = model.config;
    const x0 = start.body.samplesInline
      ? inlineBatch(start, indices.length, imageSize, inChannels)
      : this.gather(indices);
    timing.dataMs = performance.now() - started;
    try {
      const inputs = drawTrainingInputs(
        start.body.seed,
        start.body.step,
        indices,
        imageSize * imageSize * inChannels,
        schedule.timesteps,
      );
      await computeGradient(model, schedule, replica.params, x0, inputs, {
        into: replica.gradient,
        stream: { layout, onBucket },
      });
    } finally {
      x0.dispose();
    }
  }

  private gather(indices: Uint32Array): tf.Tensor4D {
    if (this.dataset === undefined)
      throw new Error(
        'The coordinator assigned indices without samples to a worker without a dataset; this is a coordinator bug.',
      );
    return gatherBatchTensor(this.dataset, indices);
  }
}

function inlineBatch(message: StepStart, count: number, size: number, channels: number): tf.Tensor4D {
  const images = expectTensor(message.tensors, TENSOR_NAMES.samples, [count, size, size, channels], 'uint8');
  const batch = createDataset({ name: 'inline', count, height: size, width: size, channels, images });
  return gatherBatchTensor(
    batch,
    Array.from({ length: count }, (_, i) => i),
  );
}
