import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import test from 'ava';
import { createDataset, gatherBatch, gatherBatchTensor } from './dataset.ts';

// Three 1x2 RGB images; image i holds bytes 6i .. 6i+5, except image 2 which spans the extremes.
const dataset = createDataset({
  name: 'tiny',
  count: 3,
  height: 1,
  width: 2,
  channels: 3,
  images: Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 255, 127, 128, 51, 204]),
  labels: Uint8Array.of(4, 5, 6),
});

test('gatherBatch copies the chosen images in order, scaled to [-1, 1]', (t) => {
  const batch = gatherBatch(dataset, [2, 0, 2]);
  t.is(batch.length, 3 * 6);
  const expected = [0, 255, 127, 128, 51, 204, 0, 1, 2, 3, 4, 5, 0, 255, 127, 128, 51, 204].map((v) =>
    Math.fround(v / 127.5 - 1),
  );
  t.deepEqual(Array.from(batch), expected);
  t.is(batch[0], -1);
  t.is(batch[1], 1);
  t.true(Math.abs(batch[2] + batch[3]) < 1e-6, '127 and 128 are symmetric around 0');
  t.is(gatherBatch(dataset, new Uint32Array(0)).length, 0);
});

test('gatherBatch checks every index against the dataset size', (t) => {
  for (const bad of [3, -1, 1.5, Number.NaN]) {
    t.throws(() => gatherBatch(dataset, [0, bad]), {
      message: new RegExp(`index ${String(bad)} \\(position 1 of the batch\\) is outside dataset 'tiny' of 3 images`),
    });
  }
});

test('gatherBatchTensor has the NHWC shape and the same values', async (t) => {
  await tf.ready();
  const tensor = gatherBatchTensor(dataset, Uint32Array.of(1, 2));
  t.teardown(() => tensor.dispose());
  t.deepEqual(tensor.shape, [2, 1, 2, 3]);
  t.is(tensor.dtype, 'float32');
  t.deepEqual(Array.from(await tensor.data()), Array.from(gatherBatch(dataset, [1, 2])));
});

test('createDataset refuses fields that disagree', (t) => {
  const images = new Uint8Array(12);
  t.throws(() => createDataset({ name: 'x', count: 2, height: 2, width: 2, channels: 2, images }), {
    message: /images has 12 bytes but count\*height\*width\*channels = 2\*2\*2\*2 = 16/,
  });
  t.throws(
    () => createDataset({ name: 'x', count: 3, height: 2, width: 2, channels: 1, images, labels: new Uint8Array(2) }),
    {
      message: /2 labels for 3 images/,
    },
  );
  t.throws(() => createDataset({ name: 'x', count: 0, height: 2, width: 2, channels: 1, images: new Uint8Array(0) }), {
    message: /count must be a positive integer, got 0/,
  });
});
