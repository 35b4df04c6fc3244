import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { modelExtractor } from './feature-extractor.ts';
import { loadTfjsModel, saveLayersModel } from './model-files.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

function tinyModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 5, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
      tfl.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
}

test('a layers model saved as model.json + weights.bin loads back with the same outputs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'model-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = tinyModel();
  await saveLayersModel(model, dir);
  const loaded = await loadTfjsModel(join(dir, 'model.json'));
  t.is(loaded.kind, 'layers');
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 3);
  const before = await (model.predict(x) as tf.Tensor).data();
  const after = await ((loaded.model as tfl.LayersModel).predict(x) as tf.Tensor).data();
  t.deepEqual(Array.from(after), Array.from(before));
});

test('a user model gives its penultimate layer as features, with grey images resized and repeated to RGB', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'model-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await saveLayersModel(tinyModel(), dir);
  const extractor = modelExtractor(await loadTfjsModel(join(dir, 'model.json')), 'tiny');
  const images = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => (i % 7) / 7);
  const out = await extractor.extract({ images, count: 3, height: 28, width: 28, channels: 1 });
  t.is(out.dim, 5);
  t.is(out.features.length, 15);
  t.is(out.probabilities, undefined);
});

test('errors name the file and what to supply', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'model-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.throwsAsync(loadTfjsModel(join(dir, 'missing.json')), {
    message: /missing\.json.*model\.json of a TensorFlow\.js/,
  });
  writeFileSync(join(dir, 'other.json'), '{"a": 1}');
  await t.throwsAsync(loadTfjsModel(join(dir, 'other.json')), {
    message: /other\.json is not a TensorFlow\.js model\.json/,
  });
  await saveLayersModel(tinyModel(), dir);
  rmSync(join(dir, 'weights.bin'));
  await t.throwsAsync(loadTfjsModel(join(dir, 'model.json')), {
    message: /weights\.bin.*keep the \.bin files next to model\.json/,
  });
});
