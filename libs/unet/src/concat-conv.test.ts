import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs'; // registers tfjs's gradients, as @ddpm/backend does for the apps
import { Rng } from '@ddpm/diffusion-core';
import { concatConv2d } from './concat-conv.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const matchesComposition = test.macro({
  exec(t, sizes: number[], k: number) {
    const rng = new Rng(sizes.length * 10 + k);
    const parts = sizes.map((c) => rng.normal<tf.Tensor4D>([2, 5, 4, c]));
    const total = sizes.reduce((a, b) => a + b, 0);
    const kernel = rng.normal<tf.Tensor4D>([k, k, total, 3]);
    const bias = rng.normal<tf.Tensor1D>([3]);
    const probe = rng.normal<tf.Tensor4D>([2, 5, 4, 3]);
    const inputs = [...parts, kernel, bias];
    const loss =
      (f: (...xs: tf.Tensor[]) => tf.Tensor) =>
      (...xs: tf.Tensor[]) =>
        tf.sum(tf.mul(f(...xs), probe));
    const split = (xs: tf.Tensor[]): [tf.Tensor4D[], tf.Tensor4D, tf.Tensor] => [
      xs.slice(0, sizes.length) as tf.Tensor4D[],
      xs[sizes.length] as tf.Tensor4D,
      xs[sizes.length + 1],
    ];
    const mine = (...xs: tf.Tensor[]): tf.Tensor => concatConv2d(...split(xs));
    const composed = (...xs: tf.Tensor[]): tf.Tensor => {
      const [ps, w, b] = split(xs);
      return tf.add(tf.conv2d(tf.concat(ps, 3), w, 1, 'same'), b);
    };
    const value = mine(...inputs);
    const reference = composed(...inputs);
    t.true(tf.max(tf.abs(tf.sub(value, reference))).dataSync()[0] < 1e-4);
    const grads = tf.grads(loss(mine))(inputs);
    const expected = tf.grads(loss(composed))(inputs);
    grads.forEach((g, i) => {
      t.deepEqual(g.shape, expected[i].shape);
      const worst = tf.max(tf.abs(tf.sub(g, expected[i]))).dataSync()[0];
      t.true(worst < 1e-4, `gradient ${i}: max difference ${worst}`);
    });
    tf.dispose([...inputs, probe, value, reference, ...grads, ...expected]);
  },
  title: (_, sizes: number[], k: number) =>
    `concatConv2d has the value and gradients of conv(concat) for parts of [${sizes}] channels, ${k}x${k}`,
});

test(matchesComposition, [3, 2], 3);
test(matchesComposition, [2, 4], 1);
test(matchesComposition, [1, 2, 3], 3);

test('concatConv2d rejects a kernel whose input channels do not match the parts', (t) => {
  const error = t.throws(() =>
    concatConv2d([tf.zeros([1, 3, 3, 2]), tf.zeros([1, 3, 3, 2])], tf.zeros([3, 3, 5, 1]), tf.zeros([1])),
  );
  t.regex(error?.message ?? '', /4 channels in all but the kernel/);
});
