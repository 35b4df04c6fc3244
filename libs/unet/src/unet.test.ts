import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { Rng } from '@ddpm/diffusion-core';
import { type UNetConfig } from './config.ts';
import { forwardUNet } from './forward.ts';
import { resolvePreset } from './presets.ts';
import { maxAbsDiff, perturbedWeights, randomInputs, TINY_CONFIG } from './testing.ts';
import { UNet } from './unet.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const tiny = new UNet(TINY_CONFIG);

const keepsShapeAndStartsAtZero = test.macro({
  exec(t, config: UNetConfig) {
    const unet = new UNet(config);
    const weights = unet.initialize(1);
    const { xt, t: steps } = randomInputs(config, [17], 2);
    const before = tf.memory().numTensors;
    const out = unet.apply(weights, xt, steps);
    t.is(tf.memory().numTensors, before + 1, 'apply leaves only its output behind');
    t.deepEqual(out.shape, [1, config.imageSize, config.imageSize, config.outChannels]);
    // conv_out is zero-initialised, so the untrained network predicts exactly zero noise.
    t.true(out.dataSync().every((v) => v === 0));
    tf.dispose([...weights, xt, steps, out]);
  },
  title: (name: string | undefined) =>
    `output has the input's shape and is exactly zero at initialisation: ${name ?? ''}`,
});

test('mnist-bench preset (28→14→7→14→28)', keepsShapeAndStartsAtZero, resolvePreset('mnist-bench'));
test('cifar-ddpm shape (32→16→8→4→…→32) with ch 16 for cpu speed', keepsShapeAndStartsAtZero, {
  ...resolvePreset('cifar-ddpm'),
  ch: 16,
  groups: 8,
});
test('tiny test config', keepsShapeAndStartsAtZero, TINY_CONFIG);

test('each example depends only on its own image and timestep (no cross-batch statistics)', (t) => {
  const weights = perturbedWeights(tiny, 3);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [5, 600], 4);
  const both = tiny.apply(weights, xt, steps);
  const singles = [0, 1].map((i) =>
    tiny.apply(weights, tf.slice(xt, [i, 0, 0, 0], [1, -1, -1, -1]), tf.slice(steps, [i], [1])),
  );
  const stacked = tf.concat(singles, 0);
  t.true(maxAbsDiff(both, stacked) < 1e-5);
  tf.dispose([...weights, xt, steps, both, ...singles, stacked]);
});

test('onWeight sees every weight once, in list order, and the forward pass computes with what it returns', (t) => {
  const weights = perturbedWeights(tiny, 7);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [5, 600], 8);
  const seen: number[] = [];
  const plain = tiny.apply(weights, xt, steps);
  const same = tiny.apply(weights, xt, steps, { onWeight: (i, w) => (seen.push(i), w) });
  t.deepEqual(
    seen,
    weights.map((_, i) => i),
  );
  t.is(maxAbsDiff(plain, same), 0);
  const zeroedLast = tiny.apply(weights, xt, steps, {
    onWeight: (i, w) => (i === weights.length - 1 ? tf.zerosLike(w) : w),
  });
  t.true(maxAbsDiff(plain, zeroedLast) > 0, 'a replaced weight changes the output');
  tf.dispose([...weights, xt, steps, plain, same, zeroedLast]);
});

test('the timestep conditions the output once weights are non-zero', (t) => {
  const weights = perturbedWeights(tiny, 5);
  const { xt } = randomInputs(TINY_CONFIG, [0, 0], 6);
  const early = tf.tensor1d([0, 0], 'int32');
  const late = tf.tensor1d([500, 999], 'int32');
  const a = tiny.apply(weights, xt, early);
  const b = tiny.apply(weights, xt, late);
  const c = tiny.apply(weights, xt, early);
  t.is(maxAbsDiff(a, c), 0, 'same inputs give the same output');
  t.true(maxAbsDiff(a, b) > 1e-2, `t changes the output by ${maxAbsDiff(a, b)}`);
  tf.dispose([...weights, xt, early, late, a, b, c]);
});

test('dropout is active only with dropout keys, and is deterministic for the same keys', (t) => {
  const weights = perturbedWeights(tiny, 7);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [10, 20], 8);
  const evalA = tiny.apply(weights, xt, steps);
  const evalB = tiny.apply(weights, xt, steps);
  const trainA = tiny.apply(weights, xt, steps, { dropoutKeys: [1, 2] });
  const trainB = tiny.apply(weights, xt, steps, { dropoutKeys: [1, 2] });
  const trainC = tiny.apply(weights, xt, steps, { dropoutKeys: [3, 4] });
  t.is(maxAbsDiff(evalA, evalB), 0);
  t.is(maxAbsDiff(trainA, trainB), 0);
  t.true(maxAbsDiff(trainA, evalA) > 1e-3, 'dropout changes the output');
  t.true(maxAbsDiff(trainA, trainC) > 1e-3, 'other keys draw other masks');

  const noDropout = new UNet({ ...TINY_CONFIG, dropout: 0 });
  const withKeys = noDropout.apply(weights, xt, steps, { dropoutKeys: [1, 2] });
  t.is(maxAbsDiff(withKeys, evalA), 0, 'dropout 0 with keys equals evaluation mode');
  tf.dispose([...weights, xt, steps, evalA, evalB, trainA, trainB, trainC, withKeys]);
});

test('gradients w.r.t. every weight are finite and non-zero, except attention key biases (softmax shift invariance)', (t) => {
  const weights = perturbedWeights(tiny, 9);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [3, 700], 10);
  const probe = new Rng(11).normal<tf.Tensor4D>(xt.shape);
  const grads = tf.grads((...ws: tf.Tensor[]) => tf.sum(tf.mul(tiny.apply(ws, xt, steps), probe)))(weights);
  const largest = Math.max(...grads.map((g) => tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0])));
  tiny.specs.forEach((spec, i) => {
    const values = grads[i].dataSync() as Float32Array;
    t.true(values.every(Number.isFinite), `${spec.name} gradient is finite`);
    const peak = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (/attn_\d+\/k\/b$/.test(spec.name)) {
      // q·(k + b) = q·k + q·b shifts each softmax row by a constant, which softmax ignores.
      t.true(peak < 1e-5 * largest, `${spec.name} gradient ${peak} should vanish`);
    } else {
      t.true(peak > 1e-6 * largest, `${spec.name} gradient is non-zero (peak ${peak})`);
    }
  });
  tf.dispose([...weights, ...grads, xt, steps, probe]);
});

test('gradients agree with central finite differences for sampled weights', (t) => {
  const weights = perturbedWeights(tiny, 12);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [40, 900], 13);
  const probe = new Rng(14).normal<tf.Tensor4D>(xt.shape);
  const loss = (ws: readonly tf.Tensor[]): tf.Scalar => tf.tidy(() => tf.sum(tf.mul(tiny.apply(ws, xt, steps), probe)));
  const grads = tf.grads((...ws: tf.Tensor[]) => loss(ws))(weights);
  const picks = [
    'temb/dense0/W',
    'conv_in/W',
    'down_0/block_0/norm1/gamma',
    'down_1/block_0/nin_shortcut/W',
    'mid/attn_1/q/W',
    'mid/attn_1/v/b',
    'up_1/upsample/conv/W',
    'up_0/block_1/conv2/W',
    'conv_out/b',
  ];
  const rng = new Rng(15);
  const h = 1e-2;
  for (const name of picks) {
    const index = tiny.specs.findIndex((s) => s.name === name);
    t.not(index, -1, name);
    const base = weights[index].dataSync() as Float32Array;
    const element = rng.int(base.length);
    const lossWith = (delta: number): number => {
      const changed = base.slice();
      changed[element] += delta;
      const tensor = tf.tensor(changed, weights[index].shape);
      const value = loss(weights.map((w, i) => (i === index ? tensor : w)));
      const result = value.dataSync()[0];
      tf.dispose([tensor, value]);
      return result;
    };
    const numeric = (lossWith(h) - lossWith(-h)) / (2 * h);
    const analytic = grads[index].dataSync()[element];
    t.true(
      Math.abs(analytic - numeric) <= 1e-2 * Math.max(1, Math.abs(numeric)),
      `${name}[${element}]: autodiff ${analytic} vs finite difference ${numeric}`,
    );
  }
  tf.dispose([...weights, ...grads, xt, steps, probe]);
});

test('apply rejects inputs and weights that do not fit the network', (t) => {
  const weights = tiny.initialize(1);
  const { xt, t: steps } = randomInputs(TINY_CONFIG, [1, 2], 1);
  const wrongSize = tf.zeros<tf.Rank.R4>([2, 6, 6, 2]);
  t.throws(() => tiny.apply(weights, wrongSize, steps), {
    message: /xt has shape \[2,6,6,2\] but this network takes \[batch, 8, 8, 2\]/,
  });
  t.throws(() => tiny.apply(weights, xt, tf.tensor1d([1], 'int32')), {
    message: /t has shape \[1\] but needs one timestep per image, shape \[2\]/,
  });
  t.throws(() => tiny.apply(weights.slice(1), xt, steps), { message: /expects \d+ weight tensors .* but got \d+/ });
  const swapped = [weights[1], weights[0], ...weights.slice(2)];
  t.throws(() => tiny.apply(swapped, xt, steps), {
    message: /weight #0 'temb\/dense0\/W' must be float32 \[8,32\] but is float32 \[32\]/,
  });
  tf.dispose([...weights, xt, steps, wrongSize]);
});

test('a skip connection whose resolution the up path cannot reproduce fails with a clear error', (t) => {
  // Bypasses validateConfig: a 7x7 input goes down to 4x4 and comes back up as 8x8, which cannot meet the 7x7 skip.
  const weights = tiny.initialize(1);
  const odd = tf.zeros<tf.Rank.R4>([1, 7, 7, 2]);
  const steps = tf.tensor1d([1], 'int32');
  t.throws(() => tf.tidy(() => forwardUNet(TINY_CONFIG, tiny.specs, weights, odd, steps, undefined)), {
    message:
      /the feature map \[1,8,8,16\] cannot be concatenated with its skip \[1,7,7,8\]; batch, height and width must match/,
  });
  tf.dispose([...weights, odd, steps]);
});
