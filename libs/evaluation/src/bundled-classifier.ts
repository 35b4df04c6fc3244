import { fileURLToPath } from 'node:url';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadTfjsModel } from './model-files.ts';

/**
 * The model.json of the MNIST classifier shipped with this lib (libs/evaluation/assets/mnist-classifier, written by
 * `ddpm train-classifier`; accuracy and how it was trained in that folder's README.md).
 */
export function bundledClassifierPath(): string {
  return fileURLToPath(new URL('../assets/mnist-classifier/model.json', import.meta.url));
}

/** Loads the bundled classifier. Preconditions: a tfjs backend is set. */
export async function loadBundledClassifier(): Promise<tfl.LayersModel> {
  const loaded = await loadTfjsModel(bundledClassifierPath());
  if (loaded.kind !== 'layers')
    throw new Error(`${bundledClassifierPath()} is not a layers model; run ddpm train-classifier again.`);
  return loaded.model;
}
