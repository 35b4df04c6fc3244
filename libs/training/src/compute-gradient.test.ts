import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ddpm/backend';
import { makeSchedule, Rng } from '@ddpm/diffusion-core';
import { flattenWeights, UNet, type UNetConfig } from '@ddpm/unet';
import { computeGradient } from './compute-gradient.ts';
import { drawTrainingInputs } from './sample-draws.ts';

// Small enough for the cpu backend, with dropout on so training mode is exercised.
const CONFIG: UNetConfig = { imageSize: 8, inChannels: 1, outChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1, attnResolutions: [4], dropout: 0.3, groups: 4 };
const SEED = 3;
const STEP = 7;

test.before(async () => {
  await selectBackend('cpu');
});

function setup(): { model: UNet; params: Float32Array; images: Float32Array } {
  const model = new UNet(CONFIG);
  const initial = model.initialize(1);
  // DDPM zero-initialises the last conv of every block: perturb, or dropout would not reach the output.
  const noise = new Rng(4).fillNormal(new Float32Array(model.parameterCount()));
  const params = flattenWeights(initial).map((w, i) => w + 0.05 * noise[i]);
  tf.dispose(initial);
  const images = new Rng(5).fillNormal(new Float32Array(2 * 64)).map((v) => Math.tanh(v));
  return { model, params, images };
}

function gradientOf(model: UNet, params: Float32Array, images: Float32Array, indices: number[], dropout = true): Float32Array {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
  const x0 = tf.tensor4d(images, [indices.length, 8, 8, 1]);
  const drawn = drawTrainingInputs(SEED, STEP, indices, 64, schedule.timesteps);
  const inputs = dropout ? drawn : { t: drawn.t, noise: drawn.noise };
  try {
    return computeGradient(model, schedule, params, x0, inputs).gradient;
  } finally {
    x0.dispose();
  }
}

test('with dropout, the gradient of a batch is the mean of its samples\' gradients: a split batch trains the same', (t) => {
  const { model, params, images } = setup();
  const both = gradientOf(model, params, images, [11, 42]);
  const first = gradientOf(model, params, images.subarray(0, 64), [11]);
  const second = gradientOf(model, params, images.subarray(64), [42]);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < both.length; i++) {
    worst = Math.max(worst, Math.abs(both[i] - (first[i] + second[i]) / 2));
    scale = Math.max(scale, Math.abs(both[i]));
  }
  t.true(worst <= 1e-5 * scale, `largest difference ${worst} against a largest gradient of ${scale}`);
  const evaluation = gradientOf(model, params, images, [11, 42], false);
  t.true(evaluation.some((g, i) => Math.abs(g - both[i]) > 1e-4 * scale), 'the keys switch dropout on');
});

test('the gradient is written into a caller-owned buffer of the model\'s size, and a wrong size is refused', (t) => {
  const { model, params, images } = setup();
  const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
  const x0 = tf.tensor4d(images.subarray(0, 64), [1, 8, 8, 1]);
  const inputs = drawTrainingInputs(SEED, STEP, [0], 64, schedule.timesteps);
  const into = new Float32Array(params.length);
  const { gradient } = computeGradient(model, schedule, params, x0, inputs, { into });
  t.is(gradient, into);
  t.true(into.some((g) => g !== 0));
  t.throws(() => computeGradient(model, schedule, params, x0, inputs, { into: new Float32Array(3) }), { message: /holds 3 values but the model has/ });
  x0.dispose();
});
