import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataset, type Dataset } from './dataset.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdx } from './idx.ts';

/** The MNIST splits, by the prefix of their file names. */
export type MnistSplit = 'train' | 't10k';

export interface LoadMnistOptions {
  /** Which split to load; by default `train` if its files are present, else `t10k`. */
  readonly split?: MnistSplit;
}

/**
 * The absolute path of the MNIST test set bundled with this lib (libs/data/assets/mnist, CC BY-SA 3.0,
 * attribution in its README.md). Does not: check that the files are still there.
 */
export function bundledMnistDir(): string {
  return fileURLToPath(new URL('../assets/mnist/', import.meta.url)).replace(/[\\/]$/, '');
}

/** The file names tried for one split and kind, in order of preference. */
function candidates(split: MnistSplit, kind: 'images' | 'labels'): string[] {
  const base = kind === 'images' ? `${split}-images-idx3-ubyte` : `${split}-labels-idx1-ubyte`;
  const dotted = kind === 'images' ? `${split}-images.idx3-ubyte` : `${split}-labels.idx1-ubyte`;
  return [`${base}.gz`, base, `${dotted}.gz`, dotted];
}

function findFile(dir: string, split: MnistSplit, kind: 'images' | 'labels'): string | undefined {
  for (const name of candidates(split, kind)) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Whether `dir` holds the image file of some MNIST split (used by loadDataset to recognise a folder). */
export function isMnistDir(dir: string): boolean {
  return findFile(dir, 'train', 'images') !== undefined || findFile(dir, 't10k', 'images') !== undefined;
}

/**
 * Loads an MNIST-style folder (`{train,t10k}-images-idx3-ubyte[.gz]` and the matching `-labels-idx1-ubyte[.gz]`)
 * as a 28x28x1 {@link Dataset} with labels.
 *
 * Promises: `count` images in NHWC uint8 (0 = background), one label per image, or an error that names the
 * file and says what to do (missing folder or file, corrupt gzip, wrong magic, truncated payload, count mismatch).
 * Does not: invert, normalise, pad or resize the images (see gatherBatch and loadDataset).
 */
export async function loadMnist(dir: string, options: LoadMnistOptions = {}): Promise<Dataset> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `MNIST folder ${dir} does not exist or is not a folder; pass the folder that holds ` +
        `train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz, or 'mnist' for the bundled test set.`,
    );
  }
  const split = options.split ?? (findFile(dir, 'train', 'images') !== undefined ? 'train' : 't10k');
  const imagesPath = findFile(dir, split, 'images');
  const labelsPath = findFile(dir, split, 'labels');
  for (const [kind, path] of [
    ['images', imagesPath],
    ['labels', labelsPath],
  ] as const) {
    if (path === undefined) {
      throw new Error(
        `MNIST folder ${dir} has no ${split} ${kind} file (looked for ${candidates(split, kind).join(', ')}); ` +
          `put the ${split} ${kind} file there or choose another split.`,
      );
    }
  }
  const [images, labels] = await Promise.all([readIdx(imagesPath as string), readIdx(labelsPath as string)]);
  if (images.magic !== IDX_IMAGES_MAGIC) {
    throw new Error(
      `${images.path} has IDX magic 0x${images.magic.toString(16).padStart(8, '0')}, not 0x00000803 (images); ` +
        'the images and labels files may be swapped or renamed, check the file names.',
    );
  }
  if (labels.magic !== IDX_LABELS_MAGIC) {
    throw new Error(
      `${labels.path} has IDX magic 0x${labels.magic.toString(16).padStart(8, '0')}, not 0x00000801 (labels); ` +
        'the images and labels files may be swapped or renamed, check the file names.',
    );
  }
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(
      `MNIST count mismatch: ${images.path} holds ${count} images but ${labels.path} holds ${labels.dims[0]} labels; ` +
        'the two files come from different splits or downloads, use the matching pair.',
    );
  }
  if (count === 0) throw new Error(`${images.path} holds 0 images; download the file again.`);
  return createDataset({
    name: `mnist:${split}`,
    count,
    height,
    width,
    channels: 1,
    images: images.data,
    labels: labels.data,
  });
}
