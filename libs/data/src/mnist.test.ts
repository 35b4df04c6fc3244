import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bundledMnistDir, loadMnist } from './mnist.ts';
import { loadDataset } from './load-dataset.ts';

// Known facts about the MNIST test set (t10k), independent of this code.
const FIRST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9];
const LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

test('the bundled files match SHA256SUMS and keep their attribution', async (t) => {
  const dir = bundledMnistDir();
  const sums = (await readFile(join(dir, 'SHA256SUMS'), 'utf8')).trim().split('\n');
  t.is(sums.length, 2);
  for (const line of sums) {
    const [expected, name] = line.split(/\s+/);
    const actual = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    t.is(actual, expected, name);
  }
  t.regex(await readFile(join(dir, 'README.md'), 'utf8'), /CC BY-SA 3\.0/);
});

test('the bundled MNIST test set loads with known labels and plausible pixels', async (t) => {
  const mnist = await loadMnist(bundledMnistDir());
  t.is(mnist.name, 'mnist:t10k');
  t.deepEqual([mnist.count, mnist.height, mnist.width, mnist.channels], [10000, 28, 28, 1]);
  t.is(mnist.images.length, 10000 * 28 * 28);
  const labels = mnist.labels;
  if (labels === undefined) return t.fail('labels missing');
  t.deepEqual(Array.from(labels.subarray(0, 10)), FIRST_LABELS);
  const counts = new Array<number>(10).fill(0);
  for (const label of labels) counts[label] += 1; // a label > 9 would add a NaN slot and fail below
  t.deepEqual(counts, LABEL_COUNTS);
  let sum = 0;
  let max = 0;
  for (const v of mnist.images) {
    sum += v;
    if (v > max) max = v;
  }
  const mean = sum / mnist.images.length;
  // The usual normalisation constant is 0.1307 (train set, 33.3/255); the test set mean is 0.1325 (33.8/255).
  t.true(mean > 32.5 && mean < 35, `mean pixel ${mean}`);
  t.is(max, 255);
  // Corners of the first digit (a 7) are background.
  t.is(mnist.images[0], 0);
  t.is(mnist.images[28 * 28 - 1], 0);
});

test("loadDataset('mnist') and uncompressed IDX files in a folder give the same data", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-data-mnist-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
    const gz = await readFile(join(bundledMnistDir(), `t10k-${kind}.gz`));
    await writeFile(join(dir, `t10k-${kind}`), gunzipSync(gz));
  }
  const bundled = await loadDataset('mnist');
  const plain = await loadDataset(dir);
  t.is(plain.count, 10000);
  t.true(Buffer.from(plain.images).equals(Buffer.from(bundled.images)));
  t.true(Buffer.from(plain.labels ?? []).equals(Buffer.from(bundled.labels ?? [1])));
});

test('loadDataset rejects what it cannot recognise, saying what it accepts', async (t) => {
  await t.throwsAsync(loadDataset('/no/such/place'), {
    message: /'\/no\/such\/place' is neither 'mnist'.*folder of \.png/,
  });
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-data-empty-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'notes.txt'), 'hello');
  await t.throwsAsync(loadDataset(dir), { message: /neither MNIST IDX files .* nor \.png images/ });
  await t.throwsAsync(loadDataset('mnist', { channels: 3 }), { message: /MNIST is greyscale/ });
});
