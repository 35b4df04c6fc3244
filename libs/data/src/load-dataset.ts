import { existsSync, statSync } from 'node:fs';
import type { Dataset } from './dataset.ts';
import { listPngFiles, loadImageFolder } from './image-folder.ts';
import { bundledMnistDir, isMnistDir, loadMnist } from './mnist.ts';
import { resizeDataset } from './resize.ts';

export interface LoadDatasetOptions {
  /** Side of the square images. Required for a PNG folder; for MNIST, 28 unless given (other sizes resize). */
  readonly size?: number;
  /** 1 (grey) or 3 (RGB). MNIST is grey only; a PNG folder defaults to 3. */
  readonly channels?: 1 | 3;
}

/**
 * Loads the dataset a run configuration names:
 * - `mnist`: the MNIST test set bundled with this lib (10,000 images, 28x28x1, labels);
 * - a path to an MNIST-style folder (`{train,t10k}-images-idx3-ubyte[.gz]` + labels), train split preferred;
 * - a path to a folder of PNG images (recursively), see loadImageFolder.
 * Promises: a validated {@link Dataset}, or an error saying which of the three forms was expected.
 * Preconditions: a tfjs backend is set when a resize is needed. Does not: download anything.
 */
export async function loadDataset(spec: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const mnistDir =
    spec === 'mnist'
      ? bundledMnistDir()
      : existsSync(spec) && statSync(spec).isDirectory() && isMnistDir(spec)
        ? spec
        : undefined;
  if (mnistDir !== undefined) {
    if (options.channels !== undefined && options.channels !== 1) {
      throw new RangeError(
        `loadDataset('${spec}'): MNIST is greyscale, so channels must be 1 (or left out), got ${options.channels}.`,
      );
    }
    const dataset = await loadMnist(mnistDir);
    return options.size === undefined ? dataset : resizeDataset(dataset, options.size);
  }
  if (!existsSync(spec) || !statSync(spec).isDirectory()) {
    throw new Error(
      `loadDataset: '${spec}' is neither 'mnist' (the bundled test set) nor an existing folder; ` +
        'pass mnist, an MNIST folder (train-images-idx3-ubyte.gz ...) or a folder of .png images.',
    );
  }
  if ((await listPngFiles(spec)).length === 0) {
    throw new Error(
      `loadDataset: folder ${spec} holds neither MNIST IDX files (train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz]) ` +
        'nor .png images; put one of the two there or point to another folder.',
    );
  }
  if (options.size === undefined) {
    throw new Error(
      `loadDataset: folder ${spec} holds PNG images; say which square size to resize them to, e.g. { size: 32 }.`,
    );
  }
  return loadImageFolder(spec, { size: options.size, channels: options.channels ?? 3 });
}
