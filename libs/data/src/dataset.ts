import * as tf from '@tensorflow/tfjs-core';

/**
 * An in-memory image dataset, as every loader of this lib returns it.
 *
 * `images` holds `count * height * width * channels` bytes in NHWC order (image, row, column, channel),
 * 0 = black, 255 = white. `labels`, when present, holds one byte per image.
 */
export interface Dataset {
  /** Where the data came from, for logs and error messages (e.g. `mnist:t10k` or a folder path). */
  readonly name: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly images: Uint8Array;
  readonly labels?: Uint8Array;
}

/**
 * Builds a {@link Dataset} after checking that its fields agree with each other.
 *
 * Promises: the returned object has positive integer dimensions, `images.length === count*height*width*channels`
 * and, if given, `labels.length === count`. Does not: copy the arrays (they are shared with the caller).
 */
export function createDataset(fields: Dataset): Dataset {
  const { name, count, height, width, channels, images, labels } = fields;
  for (const [key, value] of [
    ['count', count],
    ['height', height],
    ['width', width],
    ['channels', channels],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Dataset '${name}': ${key} must be a positive integer, got ${value}; check the loader that built it.`,
      );
    }
  }
  const expected = count * height * width * channels;
  if (images.length !== expected) {
    throw new RangeError(
      `Dataset '${name}': images has ${images.length} bytes but count*height*width*channels = ` +
        `${count}*${height}*${width}*${channels} = ${expected}; the pixel buffer and the shape disagree.`,
    );
  }
  if (labels !== undefined && labels.length !== count) {
    throw new RangeError(
      `Dataset '${name}': ${labels.length} labels for ${count} images; give exactly one label per image.`,
    );
  }
  return labels === undefined
    ? { name, count, height, width, channels, images }
    : { name, count, height, width, channels, images, labels };
}

/** Byte value -> model input in [-1, 1], computed once. */
const SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);

/**
 * Copies the images at `indices` into one float batch scaled to [-1, 1] (x / 127.5 - 1), NHWC.
 *
 * Promises: the result has `indices.length * height * width * channels` floats, image k of the batch is
 * `dataset` image `indices[k]`; 0 maps to -1 and 255 to 1 exactly. Indices may repeat.
 * Preconditions: every index is an integer in [0, count). Does not: augment, shuffle or touch tfjs.
 */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>): Float32Array {
  const size = dataset.height * dataset.width * dataset.channels;
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k];
    if (!Number.isInteger(index) || index < 0 || index >= dataset.count) {
      throw new RangeError(
        `gatherBatch: index ${index} (position ${k} of the batch) is outside dataset '${dataset.name}' ` +
          `of ${dataset.count} images; indices must be integers in [0, ${dataset.count}). ` +
          'Was the epoch cursor built for a different dataset size?',
      );
    }
    const source = index * size;
    const target = k * size;
    for (let i = 0; i < size; i++) out[target + i] = SCALE[dataset.images[source + i]];
  }
  return out;
}

/**
 * {@link gatherBatch} as a float32 tensor of shape [indices.length, height, width, channels].
 *
 * Preconditions: a tfjs backend is set (e.g. by @ddpm/backend) and the indices are valid.
 * The caller owns the tensor and must dispose it.
 */
export function gatherBatchTensor(dataset: Dataset, indices: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(
    gatherBatch(dataset, indices),
    [indices.length, dataset.height, dataset.width, dataset.channels],
    'float32',
  );
}
