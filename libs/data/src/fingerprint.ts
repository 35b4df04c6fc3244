import { crc32 } from 'node:zlib';
import type { Dataset } from './dataset.ts';

/**
 * A short identity of a dataset's content: count, image shape and the CRC-32 of its pixels, e.g.
 * "10000x28x28x1-8d3f2a1c". Two processes that load the same data (from any path) get the same fingerprint, so a
 * coordinator can refuse a worker whose local copy differs instead of training on mismatched samples.
 * Does not: hash the labels or the file names.
 */
export function datasetFingerprint(dataset: Dataset): string {
  const crc = crc32(dataset.images).toString(16).padStart(8, '0');
  return `${dataset.count}x${dataset.height}x${dataset.width}x${dataset.channels}-${crc}`;
}
