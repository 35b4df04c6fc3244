import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { encodeImageGrid, writeImageGrid } from './png-grid.ts';

/** Float64 reference of the byte a model output maps to. */
const toByte = (x: number): number =>
  Number.isNaN(x) ? 0 : Math.min(255, Math.max(0, Math.round((Math.fround(x) + 1) * 127.5)));

const gridRoundTrip = test.macro({
  exec(t, c: 1 | 3, n: number, columns: number | undefined) {
    const [h, w] = [3, 2];
    const images = Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 1.7) * 1.2); // some beyond [-1, 1]
    images[0] = Number.NaN;
    const decoded = PNG.sync.read(encodeImageGrid(images, n, h, w, c, columns === undefined ? {} : { columns }));
    const cols = columns ?? Math.ceil(Math.sqrt(n));
    const rows = Math.ceil(n / cols);
    t.is(decoded.width, cols * (w + 1) + 1);
    t.is(decoded.height, rows * (h + 1) + 1);
    t.is(decoded.color, c === 3);
    t.is(decoded.alpha, false);
    const isImagePixel = new Uint8Array(decoded.width * decoded.height);
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const gy = Math.floor(i / cols) * (h + 1) + 1 + y;
          const gx = (i % cols) * (w + 1) + 1 + x;
          isImagePixel[gy * decoded.width + gx] = 1;
          const rgba = Array.from(
            decoded.data.subarray(4 * (gy * decoded.width + gx), 4 * (gy * decoded.width + gx) + 4),
          );
          const source = ((i * h + y) * w + x) * c;
          const expected =
            c === 1 ? [0, 0, 0].map(() => toByte(images[source])) : [0, 1, 2].map((k) => toByte(images[source + k]));
          t.deepEqual(rgba, [...expected, 255], `image ${i} pixel (${y}, ${x})`);
        }
      }
    }
    for (let p = 0; p < isImagePixel.length; p++) {
      if (isImagePixel[p] === 0 && decoded.data.readUInt32BE(4 * p) !== 0x000000ff)
        t.fail(`padding pixel ${p} is not black`);
    }
  },
  title: (_ = '', c: number, n: number, columns?: number) =>
    `a grid of ${n} ${c === 1 ? 'grey' : 'RGB'} images (columns ${columns ?? 'auto'}) decodes to the same pixels`,
});

test(gridRoundTrip, 1, 5, 3);
test(gridRoundTrip, 1, 1, undefined);
test(gridRoundTrip, 3, 7, undefined);
test(gridRoundTrip, 3, 4, 1);

test('encodeImageGrid maps -1, 0, 1 to 0, 128, 255 and clamps', (t) => {
  const decoded = PNG.sync.read(
    encodeImageGrid(Float32Array.of(-1, 0, 1, 5, -5), 5, 1, 1, 1, { columns: 5, padValue: 9 }),
  );
  t.deepEqual(
    [1, 3, 5, 7, 9].map((x) => decoded.data[4 * (decoded.width + x)]),
    [0, 128, 255, 255, 0],
  );
  t.is(decoded.data[0], 9, 'padValue fills the padding');
});

test('encodeImageGrid rejects shapes that do not match the data', (t) => {
  t.throws(() => encodeImageGrid(new Float32Array(10), 2, 2, 2, 1), {
    message: /images has 10 values but n\*h\*w\*c = 2\*2\*2\*1 = 8/,
  });
  t.throws(() => encodeImageGrid(new Float32Array(16), 2, 2, 2, 2), {
    message: /c must be 1 \(grey\) or 3 \(RGB\), got 2/,
  });
  t.throws(() => encodeImageGrid(new Float32Array(8), 2, 2, 2, 1, { columns: 0 }), {
    message: /columns must be a positive integer/,
  });
});

test('writeImageGrid writes the PNG atomically and leaves no temporary file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-data-grid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const images = Float32Array.from({ length: 4 * 2 * 2 * 3 }, (_, i) => (i % 3) - 1);
  const path = join(dir, 'samples.png');
  writeImageGrid(path, images, 4, 2, 2, 3);
  writeImageGrid(path, images, 4, 2, 2, 3); // overwriting an existing file works too
  t.deepEqual(await readdir(dir), ['samples.png']);
  t.true((await readFile(path)).equals(encodeImageGrid(images, 4, 2, 2, 3)));
  t.throws(() => writeImageGrid(join(dir, 'missing', 'x.png'), images, 4, 2, 2, 3), {
    message: /cannot write .*x\.png .*check that its folder exists/,
  });
  t.deepEqual(await readdir(dir), ['samples.png']);
});
