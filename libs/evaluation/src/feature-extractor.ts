import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FEATURE_LAYER } from './classifier-model.ts';
import type { TfjsModel } from './model-files.ts';

/** Images as the samplers and gatherBatch give them: NHWC float32 in [-1, 1]. */
export interface ImageBatch {
  readonly images: Float32Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** Features of a set of images, row by row, and (for a classifier) its softmax outputs. */
export interface ExtractedFeatures {
  readonly dim: number;
  readonly features: Float32Array;
  readonly classes?: number;
  readonly probabilities?: Float32Array;
}

/** Maps images to feature vectors in batches of {@link EXTRACT_BATCH}, so memory is bounded whatever the count. */
export interface FeatureExtractor {
  /** For reports: `mnist-classifier` or the model's path. */
  readonly name: string;
  extract(batch: ImageBatch): Promise<ExtractedFeatures>;
}

export const EXTRACT_BATCH = 256;

/**
 * The extractor of the bundled MNIST classifier: features from its penultimate layer ({@link FEATURE_LAYER}),
 * probabilities from its softmax. Preconditions: images are 28×28×1 (throws naming the shape otherwise).
 */
export function classifierExtractor(model: tfl.LayersModel, name = 'mnist-classifier'): FeatureExtractor {
  const both = tfl.model({
    inputs: model.inputs,
    outputs: [model.getLayer(FEATURE_LAYER).output as tfl.SymbolicTensor, model.outputs[0]],
  });
  return {
    name,
    async extract(batch) {
      if (batch.height !== 28 || batch.width !== 28 || batch.channels !== 1) {
        throw new Error(
          `the bundled MNIST classifier takes 28x28x1 images, got ${batch.height}x${batch.width}x${batch.channels}; ` +
            'pass --features model.json (a TensorFlow.js model for your images) for other data.',
        );
      }
      const parts = await inBatches(batch, (x) => both.predict(x) as tf.Tensor[]);
      return { dim: parts.dims[0], features: parts.values[0], classes: parts.dims[1], probabilities: parts.values[1] };
    },
  };
}

/**
 * The extractor of a user's model (`--features model.json`): images are resized (bilinear) to its input size and
 * grey is repeated to RGB when it takes 3 channels, values stay in [-1, 1] (what Keras' Inception preprocessing
 * gives). Features: a layers model's penultimate layer; a graph model's first output. A rank-4 output is averaged
 * over its spatial dimensions.
 */
export function modelExtractor(loaded: TfjsModel, name: string): FeatureExtractor {
  const [height, width, channels] = inputShape(loaded);
  const run =
    loaded.kind === 'graph'
      ? (x: tf.Tensor4D) => firstOutput(loaded.model.predict(x))
      : (() => {
          const layers = loaded.model.layers;
          const source = layers.length >= 2 ? layers[layers.length - 2] : layers[0];
          const sub = tfl.model({ inputs: loaded.model.inputs, outputs: source.output as tfl.SymbolicTensor });
          return (x: tf.Tensor4D) => firstOutput(sub.predict(x));
        })();
  return {
    name,
    async extract(batch) {
      if (channels !== undefined && channels !== batch.channels && !(channels === 3 && batch.channels === 1)) {
        throw new Error(
          `${name} takes ${channels}-channel images but the images have ${batch.channels}; use a model for your images.`,
        );
      }
      const parts = await inBatches(batch, (x) => {
        let input: tf.Tensor4D = x;
        if ((height ?? batch.height) !== batch.height || (width ?? batch.width) !== batch.width)
          input = tf.image.resizeBilinear(input, [height ?? batch.height, width ?? batch.width]);
        if (channels === 3 && batch.channels === 1) input = tf.tile(input, [1, 1, 1, 3]);
        const output = run(input);
        return [output.rank === 4 ? tf.mean(output, [1, 2]) : tf.reshape(output, [output.shape[0], -1])];
      });
      return { dim: parts.dims[0], features: parts.values[0] };
    },
  };
}

function inputShape(loaded: TfjsModel): (number | undefined)[] {
  const shape = loaded.model.inputs[0].shape ?? [];
  return shape.slice(1, 4).map((d) => (d === null || d === undefined || d < 0 ? undefined : d));
}

function firstOutput(output: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor {
  if (output instanceof tf.Tensor) return output;
  return Array.isArray(output) ? output[0] : Object.values(output)[0];
}

/**
 * Runs `forward` over the images in slices of {@link EXTRACT_BATCH} and concatenates each output's rows.
 * Promises: every tensor it creates is released; output k has `dims[k]` values per image.
 */
async function inBatches(
  batch: ImageBatch,
  forward: (x: tf.Tensor4D) => tf.Tensor[],
): Promise<{ dims: number[]; values: Float32Array[] }> {
  const size = batch.height * batch.width * batch.channels;
  let dims: number[] = [];
  let values: Float32Array[] = [];
  for (let start = 0; start < batch.count; start += EXTRACT_BATCH) {
    const n = Math.min(EXTRACT_BATCH, batch.count - start);
    const outputs = tf.tidy(() => {
      const x = tf.tensor4d(batch.images.subarray(start * size, (start + n) * size), [
        n,
        batch.height,
        batch.width,
        batch.channels,
      ]);
      return forward(x).map((output) => tf.reshape(output, [n, -1]));
    });
    if (start === 0) {
      dims = outputs.map((output) => output.shape[1] as number);
      values = dims.map((dim) => new Float32Array(batch.count * dim));
    }
    for (let k = 0; k < outputs.length; k++) values[k].set((await outputs[k].data()) as Float32Array, start * dims[k]);
    tf.dispose(outputs);
  }
  return { dims, values };
}
