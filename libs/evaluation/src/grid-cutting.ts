import { PNG } from 'pngjs';
import type { ImageBatch } from './feature-extractor.ts';

/**
 * Cuts a PNG grid as encodeImageGrid writes it (tiles of `tile`×`tile` pixels, 1-pixel padding between and around
 * them, row-major) back into images: NHWC float32 in [-1, 1] (byte / 127.5 - 1).
 *
 * Promises: grey PNGs give 1 channel and colour PNGs 3 (alpha dropped; grey-as-RGB PNGs give 3, see `channels`);
 * trailing cells that are padding only (a grid of n images not filling its last row) are dropped.
 * Preconditions: the PNG's width and height are k·(tile + 1) + 1; throws an error naming the file, the size and the
 * expected tile size otherwise.
 */
export function cutImageGrid(png: Buffer, tile: number, channels: 1 | 3, name = 'grid'): ImageBatch {
  const image = PNG.sync.read(png);
  const { width, height } = image;
  if ((width - 1) % (tile + 1) !== 0 || (height - 1) % (tile + 1) !== 0) {
    throw new Error(
      `${name} is ${width}x${height} pixels, which is not a grid of ${tile}x${tile} images with 1-pixel padding ` +
        `(k·${tile + 1} + 1 pixels each way); pass the image size of the model that drew it with --image-size.`,
    );
  }
  const columns = (width - 1) / (tile + 1);
  const rows = (height - 1) / (tile + 1);
  const size = tile * tile * channels;
  const cells: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const cell = new Float32Array(size);
      for (let y = 0; y < tile; y++) {
        for (let x = 0; x < tile; x++) {
          const source = ((r * (tile + 1) + 1 + y) * width + c * (tile + 1) + 1 + x) * 4;
          for (let k = 0; k < channels; k++) {
            const value = channels === 1 ? image.data[source] : image.data[source + k];
            cell[(y * tile + x) * channels + k] = value / 127.5 - 1;
          }
        }
      }
      cells.push(cell);
    }
  }
  while (cells.length > 0 && cells[cells.length - 1].every((value) => value === -1)) cells.pop();
  const images = new Float32Array(cells.length * size);
  cells.forEach((cell, i) => images.set(cell, i * size));
  return { images, count: cells.length, height: tile, width: tile, channels };
}

/** Concatenates image batches of one shape (e.g. from several grids). Throws naming the shapes when they differ. */
export function concatImages(batches: readonly ImageBatch[]): ImageBatch {
  if (batches.length === 0) throw new Error('no images: pass at least one PNG grid or a folder that holds some.');
  const [first] = batches;
  for (const batch of batches) {
    if (batch.height !== first.height || batch.width !== first.width || batch.channels !== first.channels) {
      throw new Error(
        `grids of different image shapes (${first.height}x${first.width}x${first.channels} and ` +
          `${batch.height}x${batch.width}x${batch.channels}); evaluate one model's grids at a time.`,
      );
    }
  }
  const count = batches.reduce((sum, batch) => sum + batch.count, 0);
  const images = new Float32Array(batches.reduce((sum, batch) => sum + batch.images.length, 0));
  let offset = 0;
  for (const batch of batches) {
    images.set(batch.images, offset);
    offset += batch.images.length;
  }
  return { images, count, height: first.height, width: first.width, channels: first.channels };
}
