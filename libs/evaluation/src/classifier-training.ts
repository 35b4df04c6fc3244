import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { epochPermutation, gatherBatch, type Dataset } from '@ddpm/data';
import { buildMnistClassifier } from './classifier-model.ts';

export interface ClassifierTrainingOptions {
  readonly seed: number;
  readonly epochs: number;
  /** Images held out of training, on which the accuracy is measured. */
  readonly heldOut: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Called after every epoch with the training loss and the held-out accuracy. */
  readonly onEpoch?: (epoch: number, loss: number, heldOutAccuracy: number) => void;
}

export interface ClassifierTrainingResult {
  readonly model: tfl.LayersModel;
  readonly trainCount: number;
  readonly heldOutCount: number;
  readonly heldOutAccuracy: number;
}

/**
 * Splits 0..count-1 into a training part and `heldOut` held-out indices by a permutation drawn from `seed`
 * (epoch 0 of {@link epochPermutation}). Promises: the two parts are disjoint, cover every index, and depend only on
 * (seed, count, heldOut). Preconditions: 0 < heldOut < count (throws a RangeError naming both otherwise).
 */
export function splitHeldOut(
  seed: number,
  count: number,
  heldOut: number,
): { train: Uint32Array; heldOut: Uint32Array } {
  if (!Number.isInteger(heldOut) || heldOut < 1 || heldOut >= count) {
    throw new RangeError(
      `held-out count ${heldOut} must be an integer in [1, ${count}) for a dataset of ${count} images.`,
    );
  }
  const order = epochPermutation(seed, 0, count);
  return { train: order.slice(0, count - heldOut), heldOut: order.slice(count - heldOut) };
}

/**
 * Trains {@link buildMnistClassifier} on a labelled 28×28×1 dataset: Adam, sparse categorical cross-entropy, the
 * training part visited in a fresh seeded order every epoch, no augmentation.
 * Promises: with the same options, dataset and backend, the same weights (every initializer and order is seeded).
 * Preconditions: the dataset has labels and 28×28×1 images (throws naming what it got otherwise).
 */
export async function trainMnistClassifier(
  dataset: Dataset,
  options: ClassifierTrainingOptions,
): Promise<ClassifierTrainingResult> {
  if (dataset.labels === undefined || dataset.height !== 28 || dataset.width !== 28 || dataset.channels !== 1) {
    throw new Error(
      `the classifier trains on labelled 28x28x1 images (MNIST); ${dataset.name} is ` +
        `${dataset.height}x${dataset.width}x${dataset.channels}${dataset.labels === undefined ? ' without labels' : ''}.`,
    );
  }
  const labels = dataset.labels;
  const split = splitHeldOut(options.seed, dataset.count, options.heldOut);
  const model = buildMnistClassifier(options.seed);
  model.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'sparseCategoricalCrossentropy' });
  const heldOutX = tf.tensor4d(gatherBatch(dataset, split.heldOut), [split.heldOut.length, 28, 28, 1]);
  let heldOutAccuracy = 0;
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const order = epochPermutation(options.seed, epoch + 1, split.train.length).map((i) => split.train[i]);
      const x = tf.tensor4d(gatherBatch(dataset, order), [order.length, 28, 28, 1]);
      const y = tf.tensor1d(Float32Array.from(order, (i) => labels[i]));
      const history = await model.fit(x, y, { batchSize: options.batchSize, epochs: 1, shuffle: false, verbose: 0 });
      tf.dispose([x, y]);
      heldOutAccuracy = await accuracy(
        model,
        heldOutX,
        Array.from(split.heldOut, (i) => labels[i]),
      );
      options.onEpoch?.(epoch + 1, history.history.loss[0] as number, heldOutAccuracy);
    }
  } finally {
    heldOutX.dispose();
  }
  return { model, trainCount: split.train.length, heldOutCount: split.heldOut.length, heldOutAccuracy };
}

/** The fraction of images whose argmax prediction equals the label. */
export async function accuracy(model: tfl.LayersModel, x: tf.Tensor4D, labels: readonly number[]): Promise<number> {
  const predicted = tf.tidy(() => tf.argMax(model.predict(x, { batchSize: 256 }) as tf.Tensor2D, 1));
  const values = await predicted.data();
  predicted.dispose();
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (values[i] === labels[i]) right += 1;
  return right / labels.length;
}
