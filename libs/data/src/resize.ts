import * as tf from '@tensorflow/tfjs-core';
import { createDataset, type Dataset } from './dataset.ts';

/** The largest side accepted for a resize request; larger is almost certainly a mistake for DDPM training. */
export const MAX_IMAGE_SIZE = 4096;

/** Throws a clear error unless `size` is an integer side length in [1, MAX_IMAGE_SIZE]. */
export function checkSize(size: number, caller: string): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_IMAGE_SIZE) {
    throw new RangeError(
      `${caller}: size must be an integer in [1, ${MAX_IMAGE_SIZE}] (the side of the square output), got ${size}.`,
    );
  }
}

/** Waits for the active tfjs backend, or explains how to set one. */
async function readyBackend(caller: string): Promise<void> {
  try {
    await tf.ready();
  } catch (error) {
    throw new Error(
      `${caller} resizes with tfjs but no tfjs backend is available (${(error as Error).message}); ` +
        "set one first, e.g. with @ddpm/backend or `import '@tensorflow/tfjs-backend-cpu'`.",
    );
  }
}

/**
 * Resizes one float HWC image to size x size with `tf.image.resizeBilinear` (half-pixel centres, no
 * antialiasing, as TF2's `tf.image.resize(..., 'bilinear')`) on the backend that is active.
 *
 * Promises: returns `size*size*channels` floats; the input is returned unchanged when it is already size x size,
 * in which case no backend is needed. Preconditions: a tfjs backend is registered. Does not: round or clamp.
 */
export async function resizeFloatImage(
  pixels: Float32Array,
  height: number,
  width: number,
  channels: number,
  size: number,
  caller: string,
): Promise<Float32Array> {
  if (height === size && width === size) return pixels;
  await readyBackend(caller);
  const resized = tf.tidy(() =>
    tf.image.resizeBilinear(tf.tensor3d(pixels, [height, width, channels], 'float32'), [size, size], false, true),
  );
  try {
    return (await resized.data()) as Float32Array;
  } finally {
    resized.dispose();
  }
}

/** Rounds floats to the nearest byte, clamping to [0, 255] (NaN becomes 0). */
export function toBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]);
    out[i] = v > 255 ? 255 : v > 0 ? v : 0;
  }
  return out;
}

/**
 * A copy of `dataset` with every image resized to size x size (see {@link resizeFloatImage}), labels kept.
 *
 * Promises: the dataset itself when it is already size x size. Preconditions: a tfjs backend is registered.
 * Does not: keep the aspect ratio of non-square images (they are stretched).
 */
export async function resizeDataset(dataset: Dataset, size: number): Promise<Dataset> {
  checkSize(size, 'resizeDataset');
  if (dataset.height === size && dataset.width === size) return dataset;
  await readyBackend('resizeDataset');
  const { count, height, width, channels } = dataset;
  const images = new Uint8Array(count * size * size * channels);
  const chunk = 1024;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const source = dataset.images.subarray(start * height * width * channels, (start + n) * height * width * channels);
    const resized = tf.tidy(() =>
      tf.image.resizeBilinear(
        tf.tensor4d(Float32Array.from(source), [n, height, width, channels], 'float32'),
        [size, size],
        false,
        true,
      ),
    );
    try {
      images.set(toBytes((await resized.data()) as Float32Array), start * size * size * channels);
    } finally {
      resized.dispose();
    }
  }
  return createDataset({ ...dataset, name: `${dataset.name}@${size}`, height: size, width: size, images });
}
