import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

export interface ImageGridOptions {
  /** Images per row; default ceil(sqrt(n)). */
  readonly columns?: number;
  /** Byte value of the 1-pixel padding between and around the images; default 0 (black), as torchvision make_grid. */
  readonly padValue?: number;
}

/** The pixel size of a grid of n images of h x w laid out in `columns` columns with 1-pixel padding. */
export function gridSize(
  n: number,
  h: number,
  w: number,
  columns: number,
): { width: number; height: number; rows: number } {
  const rows = Math.ceil(n / columns);
  return { width: columns * (w + 1) + 1, height: rows * (h + 1) + 1, rows };
}

/**
 * Encodes n images (NHWC floats in [-1, 1], as the sampler produces them) as one PNG grid, row-major, with a
 * 1-pixel padding between and around the images. Values map to bytes by round((x + 1) * 127.5), clamped to
 * [0, 255]; NaN becomes 0. Grey (c = 1) gives a greyscale PNG, RGB (c = 3) an RGB PNG, both 8-bit.
 *
 * Preconditions: images.length === n*h*w*c, c in {1, 3}, n, h, w >= 1. Does not: write to disk (see writeImageGrid).
 */
export function encodeImageGrid(
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  options: ImageGridOptions = {},
): Buffer {
  for (const [key, value] of [
    ['n', n],
    ['h', h],
    ['w', w],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`encodeImageGrid: ${key} must be a positive integer, got ${value}.`);
  }
  if (c !== 1 && c !== 3)
    throw new RangeError(
      `encodeImageGrid: c must be 1 (grey) or 3 (RGB), got ${c}; convert other channel counts first.`,
    );
  if (images.length !== n * h * w * c) {
    throw new RangeError(
      `encodeImageGrid: images has ${images.length} values but n*h*w*c = ${n}*${h}*${w}*${c} = ${n * h * w * c}; pass the NHWC batch and its shape.`,
    );
  }
  const columns = options.columns ?? Math.ceil(Math.sqrt(n));
  if (!Number.isInteger(columns) || columns < 1)
    throw new RangeError(`encodeImageGrid: columns must be a positive integer, got ${columns}.`);
  const padValue = options.padValue ?? 0;
  if (!Number.isInteger(padValue) || padValue < 0 || padValue > 255)
    throw new RangeError(`encodeImageGrid: padValue must be an integer in [0, 255], got ${padValue}.`);
  const { width, height } = gridSize(n, h, w, columns);
  const data = Buffer.alloc(width * height * c, padValue);
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / columns) * (h + 1) + 1;
    const left = (i % columns) * (w + 1) + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          const v = Math.round((images[((i * h + y) * w + x) * c + k] + 1) * 127.5);
          data[((top + y) * width + left + x) * c + k] = v > 255 ? 255 : v > 0 ? v : 0;
        }
      }
    }
  }
  const colorType = c === 1 ? 0 : 2;
  const png = new PNG({ width, height, colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  png.data = data;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

/**
 * {@link encodeImageGrid}, written atomically to `path`: the PNG goes to a temporary file in the same folder
 * which is then renamed over `path`, so a reader never sees a half-written file. Synchronous: when it returns,
 * the file is in place (a grid is small; this blocks the event loop for a few milliseconds).
 * Preconditions: the folder exists and is writable. Does not: create folders, or fsync.
 */
export function writeImageGrid(
  path: string,
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  options: ImageGridOptions = {},
): void {
  const bytes = encodeImageGrid(images, n, h, w, c, options);
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // never created (rm itself fails with ENOTDIR when a file stands in the path)
    }
    // The system error's code and syscall stay on the error, with the grid's path (not the temp file's), so a caller
    // can explain a full or read-only disk (see @ddpm/training's explainFsError).
    const { code, syscall } = error as NodeJS.ErrnoException;
    throw Object.assign(
      new Error(
        `writeImageGrid: cannot write ${path} (${(error as Error).message}); check that its folder exists and is writable.`,
        { cause: error },
      ),
      { code, syscall, path },
    );
  }
}
