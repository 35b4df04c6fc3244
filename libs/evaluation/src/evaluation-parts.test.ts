import test from 'ava';
import { encodeImageGrid } from '@ddpm/data';
import { batchSeed, batchSizes } from './batched-sampling.ts';
import { evaluationReport, realReference, realSetIndices } from './evaluation-report.ts';
import { concatImages, cutImageGrid } from './grid-cutting.ts';

test('batchSizes: full batches then the rest; batch 0 keeps the seed, later batches get other seeds', (t) => {
  t.deepEqual(batchSizes(10, 4), [4, 4, 2]);
  t.deepEqual(batchSizes(3, 8), [3]);
  t.is(batchSeed(7, 0), 7);
  t.not(batchSeed(7, 1), 7);
  t.not(batchSeed(7, 1), batchSeed(7, 2));
  t.throws(() => batchSizes(3, 0), { message: /--batch-size/ });
});

test('realSetIndices: two disjoint sets of count; too large a count names the most the data allows', (t) => {
  const { a, b } = realSetIndices([5, 3, 1, 0, 2, 4], 3);
  t.deepEqual(a, [5, 3, 1]);
  t.deepEqual(b, [0, 2, 4]);
  t.throws(() => realSetIndices([0, 1, 2, 3, 4], 3), { message: /--count between 2 and 2/ });
});

test('evaluationReport: fd against set A, floor A vs B, their ratio, and the softmax scores', (t) => {
  const a = { dim: 1, features: Float32Array.of(0, 2) };
  const b = { dim: 1, features: Float32Array.of(1, 3) };
  const reference = realReference(a, b);
  t.is(reference.floor, 1); // means 1 and 2, equal variances
  const generated = { dim: 1, features: Float32Array.of(3, 5), classes: 2, probabilities: Float32Array.of(1, 0, 0, 1) };
  const report = evaluationReport(generated, reference);
  t.is(report.fd, 9);
  t.is(report.fd_floor, 1);
  t.is(report.fd_ratio, 9);
  t.is(report.count, 2);
  t.is(report.confidence, 1);
  t.true(Math.abs((report.label_entropy ?? 0) - Math.log(2)) < 1e-12);
  t.is(evaluationReport({ dim: 1, features: Float32Array.of(3, 5) }, reference).confidence, null);
  t.throws(() => evaluationReport({ dim: 1, features: Float32Array.of(3, 5, 6) }, reference), {
    message: /equal counts/,
  });
});

test('cutImageGrid inverts encodeImageGrid, dropping the empty cells of the last row', (t) => {
  const n = 5;
  const images = Float32Array.from({ length: n * 4 * 4 }, (_, i) => Math.round(((i * 37) % 255) - 127) / 127.5);
  const png = encodeImageGrid(images, n, 4, 4, 1);
  const cut = cutImageGrid(png, 4, 1, 'g.png');
  t.is(cut.count, n);
  const bytes = (x: number) => Math.round((x + 1) * 127.5);
  t.deepEqual(Array.from(cut.images, bytes), Array.from(images, bytes));
  t.throws(() => cutImageGrid(png, 5, 1, 'g.png'), { message: /g\.png is \d+x\d+ pixels.*--image-size/ });
  const both = concatImages([cut, cut]);
  t.is(both.count, 2 * n);
  t.throws(() => concatImages([cut, { ...cut, channels: 3 }]), { message: /different image shapes/ });
});
