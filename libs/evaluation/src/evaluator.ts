import { epochPermutation, gatherBatch, loadDataset } from '@ddpm/data';
import { FlagError } from '@ddpm/runtime';
import { loadBundledClassifier } from './bundled-classifier.ts';
import {
  evaluationReport,
  realReference,
  realSetIndices,
  type EvaluationReport,
  type RealReference,
} from './evaluation-report.ts';
import { classifierExtractor, modelExtractor, type FeatureExtractor, type ImageBatch } from './feature-extractor.ts';
import { loadTfjsModel } from './model-files.ts';

export interface EvaluatorOptions {
  /** The real data (`mnist` or a folder, as `--data` of training). */
  readonly data: string;
  /** model.json of a TensorFlow.js model whose features to use instead of the bundled MNIST classifier. */
  readonly features?: string;
  /** Images per set: generated, real set A, real set B. */
  readonly count: number;
  /** Seed of the choice of the two real sets. */
  readonly seed: number;
  /** Shape of the generated images (the model's). */
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** Compares generated images with the real data: the features and the two real sets are prepared once. */
export interface Evaluator {
  readonly extractor: FeatureExtractor;
  readonly reference: RealReference;
  evaluate(batch: ImageBatch): Promise<EvaluationReport>;
}

/** Whether images of this shape are what the bundled MNIST classifier measures. */
export function isMnistShape(height: number, width: number, channels: number): boolean {
  return height === 28 && width === 28 && channels === 1;
}

/**
 * Prepares an {@link Evaluator}: loads the feature model (the bundled classifier for 28×28 grey images, else the one
 * `--features` names), the real data at the generated images' size, and extracts the features of two disjoint real
 * sets of `count` images chosen by `seed`.
 * Promises: a FlagError (exit 2) that says what to supply for non-MNIST images without `--features`, or for a
 * `--count` the data cannot give twice. Preconditions: a tfjs backend is set.
 */
export async function createEvaluator(options: EvaluatorOptions): Promise<Evaluator> {
  const { height, width, channels } = options;
  if (options.features === undefined && !isMnistShape(height, width, channels)) {
    throw new FlagError(
      `the images are ${height}x${width}x${channels}, and the bundled classifier measures 28x28 grey digits only; ` +
        'pass --features model.json, a TensorFlow.js layers or graph model for your images (e.g. an Inception-v3 ' +
        'converted with tensorflowjs_converter), whose features the Fréchet distance compares.',
    );
  }
  const extractor =
    options.features === undefined
      ? classifierExtractor(await loadBundledClassifier())
      : modelExtractor(await loadTfjsModel(options.features), options.features);
  const dataset = await loadDataset(options.data, {
    size: height === width ? height : undefined,
    channels: channels === 1 || channels === 3 ? channels : undefined,
  });
  let sets: { a: number[]; b: number[] };
  try {
    sets = realSetIndices(epochPermutation(options.seed, 0, dataset.count), options.count);
  } catch (error) {
    throw new FlagError(`${(error as Error).message} (real data: ${dataset.name})`);
  }
  const realBatch = (indices: number[]): ImageBatch => ({
    images: gatherBatch(dataset, indices),
    count: indices.length,
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
  });
  const reference = realReference(
    await extractor.extract(realBatch(sets.a)),
    await extractor.extract(realBatch(sets.b)),
  );
  return {
    extractor,
    reference,
    evaluate: async (batch) => evaluationReport(await extractor.extract(batch), reference),
  };
}
