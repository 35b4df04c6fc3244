import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PNG } from 'pngjs';
import { createDataset, type Dataset } from './dataset.ts';
import { checkSize, resizeFloatImage, toBytes } from './resize.ts';

export interface ImageFolderOptions {
  /** Side of the square output images, in pixels. */
  readonly size: number;
  /** 1: grey (BT.601 luma 0.299 R + 0.587 G + 0.114 B), 3: RGB. */
  readonly channels: 1 | 3;
}

/** Every *.png (any case) under `dir`, recursively, sorted by relative path (code-unit order, locale-independent). */
export async function listPngFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.png'))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((file) => join(dir, file));
}

/**
 * Decodes one PNG into float HWC pixels with `channels` channels, composited over black.
 *
 * pngjs hands every PNG (grey, grey+alpha, palette, RGB, RGBA, 1-16 bits) back as 8-bit RGBA, 16-bit samples
 * scaled down to 8 bits; transparent pixels therefore become black (value * alpha / 255).
 */
export function decodePng(
  path: string,
  bytes: Buffer,
  channels: 1 | 3,
): { height: number; width: number; pixels: Float32Array } {
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (error) {
    throw new Error(
      `PNG file ${path} cannot be decoded (${(error as Error).message}); re-export it as a valid PNG or remove it from the folder.`,
    );
  }
  const { width, height, data } = png;
  const pixels = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const alpha = data[4 * p + 3] / 255;
    const r = data[4 * p] * alpha;
    const g = data[4 * p + 1] * alpha;
    const b = data[4 * p + 2] * alpha;
    if (channels === 1) {
      pixels[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      pixels[3 * p] = r;
      pixels[3 * p + 1] = g;
      pixels[3 * p + 2] = b;
    }
  }
  return { height, width, pixels };
}

/**
 * Loads every *.png under `dir` (recursively, sorted by path) as a size x size x channels {@link Dataset}.
 *
 * Each image is converted to grey or RGB (alpha composited over black, see {@link decodePng}), then resized
 * with `tf.image.resizeBilinear` (half-pixel centres, no antialiasing) on the tfjs backend that is already set,
 * then rounded to bytes. Images that already are size x size are not resized and need no backend.
 * Preconditions: a tfjs backend is registered if any image needs resizing (e.g. via @ddpm/backend).
 * Promises: an error naming the folder or file for a missing/empty folder, an invalid size and a corrupt PNG.
 * Does not: keep aspect ratio (non-square images are stretched), read labels from sub-folder names, or read
 * formats other than PNG.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<Dataset> {
  const { size, channels } = options;
  checkSize(size, 'loadImageFolder');
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`loadImageFolder: channels must be 1 (grey) or 3 (RGB), got ${String(channels)}.`);
  }
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new Error(`Image folder ${dir} does not exist or is not a folder; pass a folder that contains .png files.`);
  }
  const files = await listPngFiles(dir);
  if (files.length === 0) {
    throw new Error(
      `Image folder ${dir} holds no .png files (searched recursively); add PNG images or convert your images to PNG.`,
    );
  }
  const imageSize = size * size * channels;
  const images = new Uint8Array(files.length * imageSize);
  for (let i = 0; i < files.length; i++) {
    const bytes = await readFile(files[i]);
    const { height, width, pixels } = decodePng(files[i], bytes, channels);
    const resized = await resizeFloatImage(pixels, height, width, channels, size, 'loadImageFolder');
    images.set(toBytes(resized), i * imageSize);
  }
  return createDataset({ name: dir, count: files.length, height: size, width: size, channels, images });
}
