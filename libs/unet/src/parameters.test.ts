import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { flattenWeights, unflattenWeights } from './parameters.ts';
import { resolvePreset } from './presets.ts';
import { UNet } from './unet.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Index of the first difference between two buffers, or -1 (ava's deepEqual is too slow for 10⁶ elements). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

const mnist = new UNet(resolvePreset('mnist-bench'));
/** Initialising 1.1M parameters takes a while on a busy machine: the read-only tests share this one. */
let initial: tf.Tensor[] = [];
test.before(() => {
  initial = mnist.initialize(42);
});

test('initialize gives one float32 tensor per spec with the spec shape', (t) => {
  t.is(initial.length, mnist.specs.length);
  initial.forEach((w, i) => {
    t.deepEqual(w.shape, [...mnist.specs[i].shape], mnist.specs[i].name);
    t.is(w.dtype, 'float32');
  });
});

test('initialize is deterministic for a seed and differs across seeds', async (t) => {
  const b = mnist.initialize(42);
  const c = mnist.initialize(43);
  const [flatA, flatB, flatC] = await Promise.all([initial, b, c].map(flattenWeights));
  t.is(firstDifference(flatA, flatB), -1);
  const differing = flatA.reduce((n, v, i) => n + (v !== flatC[i] ? 1 : 0), 0);
  // Everything drawn at random differs; only zeros (biases, zero-init layers, beta) and gamma = 1 coincide.
  const random = mnist.specs
    .filter((s) => s.init.kind === 'fanAvgUniform')
    .reduce((n, s) => n + s.shape.reduce((x, y) => x * y, 1), 0);
  t.is(differing, random);
  tf.dispose([...b, ...c]);
});

test('initial values follow DDPM: fan_avg uniform kernels, zero biases, GroupNorm 1/0, zero output layers', (t) => {
  mnist.specs.forEach((spec, i) => {
    const values = initial[i].dataSync() as Float32Array;
    const leaf = spec.name.split('/').slice(-2).join('/');
    if (spec.name.endsWith('/b') || spec.name.endsWith('/beta')) {
      t.true(
        values.every((v) => v === 0),
        `${spec.name} is zero`,
      );
    } else if (spec.name.endsWith('/gamma')) {
      t.true(
        values.every((v) => v === 1),
        `${spec.name} is one`,
      );
    } else if (/(conv2|proj_out|conv_out)\/W$/.test(spec.name)) {
      t.true(
        values.every((v) => v === 0),
        `${spec.name} is zero-initialised like DDPM's init_scale=0`,
      );
    } else {
      // Variance scaling, scale 1, fan_avg, uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
      const receptive = spec.shape.length === 4 ? spec.shape[0] * spec.shape[1] : 1;
      const [fanInChannels, fanOutChannels] = spec.shape.slice(-2);
      const limit = Math.sqrt(6 / (receptive * (fanInChannels + fanOutChannels)));
      t.true(
        values.every((v) => Math.abs(v) <= limit),
        `${leaf} within ±${limit}`,
      );
      if (values.length >= 4096) {
        const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
        t.true(
          Math.abs(variance / ((limit * limit) / 3) - 1) < 0.1,
          `${spec.name} variance ${variance} vs l²/3 = ${(limit * limit) / 3}`,
        );
      }
    }
  });
});

test('flattenWeights and unflattenWeights round-trip exactly, in spec order', async (t) => {
  const flat = await flattenWeights(initial);
  t.is(firstDifference(flat, mnist.initialParameters(42)), -1, 'initialParameters is the same buffer');
  t.is(flat.length, mnist.parameterCount());
  // The first parameter (temb/dense0/W) occupies the start of the buffer, row-major.
  t.is(firstDifference(flat.subarray(0, initial[0].size), initial[0].dataSync() as Float32Array), -1);
  const restored = unflattenWeights(mnist.specs, flat);
  restored.forEach((w, i) => t.deepEqual(w.shape, [...mnist.specs[i].shape]));
  t.is(firstDifference(await flattenWeights(restored), flat), -1);
  const views = unflattenWeights(mnist.specs, flat, { copy: false });
  t.is(firstDifference(await flattenWeights(views), flat), -1, 'views give the same tensors');
  tf.dispose(views);
  flat[0] += 1; // the restored tensors hold copies
  t.not(restored[0].dataSync()[0], flat[0]);
  tf.dispose(restored);
});

test('unflattenWeights rejects a buffer of the wrong size', (t) => {
  const count = mnist.parameterCount();
  t.throws(() => unflattenWeights(mnist.specs, new Float32Array(count - 1)), {
    instanceOf: RangeError,
    message: `unflattenWeights got ${count - 1} values but the ${mnist.specs.length} parameters hold ${count}; the buffer was made for a different UNetConfig or was truncated in transit.`,
  });
  t.throws(() => unflattenWeights(mnist.specs, new Float32Array(count + 1)), { message: /got 1112802 values/ });
});

test('flattenWeights rejects non-float32 tensors', async (t) => {
  const ints = tf.tensor1d([1, 2], 'int32');
  await t.throwsAsync(flattenWeights([ints]), { message: /needs float32 tensors, got int32/ });
  ints.dispose();
});
