import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ddpm/backend';
import { gatherBatch, loadDataset } from '@ddpm/data';
import { loadBundledClassifier } from './bundled-classifier.ts';
import { classifierScores } from './classifier-scores.ts';
import { accuracy, splitHeldOut } from './classifier-training.ts';
import { classifierExtractor } from './feature-extractor.ts';
import { featureStats } from './feature-stats.ts';
import { frechetDistance } from './frechet-distance.ts';

test.before(async () => {
  await selectBackend('wasm');
});

test('splitHeldOut: disjoint parts that cover every index, fixed by the seed', (t) => {
  const a = splitHeldOut(14, 100, 20);
  t.is(a.train.length, 80);
  t.is(a.heldOut.length, 20);
  t.deepEqual(
    [...a.train, ...a.heldOut].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  t.deepEqual(splitHeldOut(14, 100, 20).heldOut, a.heldOut);
  t.notDeepEqual(splitHeldOut(15, 100, 20).heldOut, a.heldOut);
  t.throws(() => splitHeldOut(14, 100, 100), { message: /\[1, 100\)/ });
});

test('the bundled classifier reaches the documented held-out accuracy (0.972 with seed 14) on its held-out digits', async (t) => {
  const dataset = await loadDataset('mnist');
  const model = await loadBundledClassifier();
  const { heldOut } = splitHeldOut(14, dataset.count, 2000);
  const x = tf.tensor4d(gatherBatch(dataset, heldOut), [heldOut.length, 28, 28, 1]);
  const measured = await accuracy(
    model,
    x,
    Array.from(heldOut, (i) => dataset.labels?.[i] ?? -1),
  );
  x.dispose();
  t.true(Math.abs(measured - 0.972) < 1e-9, `${measured}`);
});

test('real digits: 64 features, confident and diverse labels; real-vs-real FD far below real-vs-noise', async (t) => {
  const dataset = await loadDataset('mnist');
  const extractor = classifierExtractor(await loadBundledClassifier());
  const batchOf = (indices: number[]) => ({
    images: gatherBatch(dataset, indices),
    count: indices.length,
    height: 28,
    width: 28,
    channels: 1,
  });
  const first = await extractor.extract(batchOf(Array.from({ length: 600 }, (_, i) => i)));
  const second = await extractor.extract(batchOf(Array.from({ length: 600 }, (_, i) => 600 + i)));
  t.is(first.dim, 64);
  t.is(first.features.length, 600 * 64);
  const scores = classifierScores(first.probabilities ?? [], 600, first.classes ?? 0);
  t.true(scores.confidence > 0.9, `confidence ${scores.confidence}`);
  t.true(scores.labelEntropy > 2.2, `entropy ${scores.labelEntropy}`);
  const noise = Float32Array.from({ length: 600 * 784 }, (_, i) => Math.sin(i * 12.9898) * 0.999);
  const fromNoise = await extractor.extract({ images: noise, count: 600, height: 28, width: 28, channels: 1 });
  const floor = frechetDistance(featureStats(first.features, 600, 64), featureStats(second.features, 600, 64));
  const far = frechetDistance(featureStats(first.features, 600, 64), featureStats(fromNoise.features, 600, 64));
  t.true(far > 20 * floor, `real-vs-real ${floor}, real-vs-noise ${far}`);
});

test('the classifier refuses images that are not 28x28x1 and says to pass --features', async (t) => {
  const extractor = classifierExtractor(await loadBundledClassifier());
  await t.throwsAsync(
    extractor.extract({ images: new Float32Array(2 * 32 * 32 * 3), count: 2, height: 32, width: 32, channels: 3 }),
    { message: /--features/ },
  );
});
