import * as tfl from '@tensorflow/tfjs-layers';

/** Name of the classifier's penultimate layer, whose activations are the features of the Fréchet distance. */
export const FEATURE_LAYER = 'features';
/** Number of features (units of {@link FEATURE_LAYER}). */
export const FEATURE_UNITS = 64;
/** Classes of MNIST. */
export const CLASS_COUNT = 10;

/**
 * The small MNIST classifier whose features `ddpm eval` compares: three 3×3 convolutions (8, 16, 32 channels, ReLU),
 * each followed by a 2×2 max pool (28 → 14 → 7 → 3), a dense layer of 64 ReLU units (the features) and a softmax over
 * the 10 digits; 25,034 parameters, about 100 kB as float32.
 *
 * Input: NHWC 28×28×1 in [-1, 1] (as the training data and the samplers use). Every initializer is seeded from
 * `seed`, so the same seed gives the same initial weights. Does not: compile or train the model.
 */
export function buildMnistClassifier(seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: seed * 16 + k });
  const conv = (filters: number, k: number, inputShape?: number[]) =>
    tfl.layers.conv2d({
      ...(inputShape === undefined ? {} : { inputShape }),
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(k),
    });
  return tfl.sequential({
    name: 'mnist_classifier',
    layers: [
      conv(8, 1, [28, 28, 1]),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      conv(16, 2),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      conv(32, 3),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: FEATURE_UNITS, activation: 'relu', kernelInitializer: init(4), name: FEATURE_LAYER }),
      tfl.layers.dense({
        units: CLASS_COUNT,
        activation: 'softmax',
        kernelInitializer: init(5),
        name: 'probabilities',
      }),
    ],
  });
}
