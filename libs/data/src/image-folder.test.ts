import '@tensorflow/tfjs-backend-cpu';
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { PNG, type ColorType } from 'pngjs';
import { loadImageFolder } from './image-folder.ts';
import { loadDataset } from './load-dataset.ts';

async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-data-png-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An 8-bit PNG written by pngjs from samples given in `colorType` layout. */
function png(width: number, height: number, colorType: ColorType, samples: number[]): Buffer {
  const image = new PNG({
    width,
    height,
    colorType,
    inputColorType: colorType,
    inputHasAlpha: colorType === 4 || colorType === 6,
    bitDepth: 8,
  });
  image.data = Buffer.from(samples);
  return PNG.sync.write(image, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: colorType === 4 || colorType === 6,
    bitDepth: 8,
  });
}

/** A 16-bit greyscale PNG (samples 0..65535). */
function png16(width: number, height: number, samples: number[]): Buffer {
  const image = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 16 });
  image.data = Buffer.from(Uint16Array.from(samples).buffer);
  return PNG.sync.write(image, { colorType: 0, inputColorType: 0, bitDepth: 16 });
}

/** An 8-bit palette PNG (colour type 3), assembled chunk by chunk from the PNG specification. */
function palettePng(width: number, height: number, palette: [number, number, number][], indices: number[]): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 3; // palette
  const rows: number[] = [];
  for (let y = 0; y < height; y++) rows.push(0, ...indices.slice(y * width, (y + 1) * width)); // filter 0 per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const luma = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

test('grey, RGB, RGBA, palette and 16-bit PNGs load with the expected pixels, sorted and recursively', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'a-rgb.png'), png(2, 2, 2, [10, 20, 30, 200, 100, 50, 0, 0, 0, 255, 255, 255]));
  await writeFile(
    join(dir, 'b-rgba.png'),
    png(2, 2, 6, [200, 100, 50, 255, 200, 100, 50, 0, 255, 255, 255, 51, 0, 0, 0, 255]),
  );
  await writeFile(
    join(dir, 'c-palette.png'),
    palettePng(
      2,
      2,
      [
        [255, 0, 0],
        [0, 0, 255],
        [9, 9, 9],
      ],
      [0, 1, 2, 0],
    ),
  );
  await writeFile(join(dir, 'sub', 'd-grey16.png'), png16(2, 2, [0, 65535, 25700, 257 * 7]));
  await writeFile(join(dir, 'ignored.txt'), 'not an image');

  const rgb = await loadImageFolder(dir, { size: 2, channels: 3 });
  t.deepEqual([rgb.count, rgb.height, rgb.width, rgb.channels], [4, 2, 2, 3]);
  t.deepEqual(
    Array.from(rgb.images),
    [
      // a-rgb: unchanged.
      10, 20, 30, 200, 100, 50, 0, 0, 0, 255, 255, 255,
      // b-rgba: composited over black: alpha 255 keeps, alpha 0 gives black, alpha 51 = 20 % of 255.
      200, 100, 50, 0, 0, 0, 51, 51, 51, 0, 0, 0,
      // c-palette: the palette colours.
      255, 0, 0, 0, 0, 255, 9, 9, 9, 255, 0, 0,
      // sub/d-grey16: 16-bit samples scaled to 8 bits (x * 255 / 65535).
      0, 0, 0, 255, 255, 255, 100, 100, 100, 7, 7, 7,
    ],
  );
  const grey = await loadImageFolder(dir, { size: 2, channels: 1 });
  t.deepEqual(Array.from(grey.images.subarray(0, 8)), [
    luma(10, 20, 30),
    luma(200, 100, 50),
    0,
    255,
    luma(200, 100, 50),
    0,
    51,
    0,
  ]);
  t.deepEqual(Array.from(grey.images.subarray(8)), [
    luma(255, 0, 0),
    luma(0, 0, 255),
    9,
    luma(255, 0, 0),
    0,
    255,
    100,
    7,
  ]);
});

test('images of other sizes are resized bilinearly with half-pixel centres', async (t) => {
  const dir = await tempDir(t);
  const big = Array.from({ length: 16 }, (_, i) => (i * 37) % 256); // 4x4 grey
  await writeFile(join(dir, 'a-grey-4x4.png'), png(4, 4, 0, big));
  await writeFile(join(dir, 'b-uniform-3x5.png'), png(5, 3, 2, Array.from({ length: 15 }, () => [40, 80, 120]).flat()));
  await writeFile(join(dir, 'c-uniform-1x1.png'), png(1, 1, 0, [77]));
  const dataset = await loadImageFolder(dir, { size: 2, channels: 3 });
  // Halving with half-pixel centres samples each output pixel midway between 2x2 input pixels: the block mean.
  const block = (y: number, x: number): number =>
    Math.round((big[8 * y + 2 * x] + big[8 * y + 2 * x + 1] + big[8 * y + 2 * x + 4] + big[8 * y + 2 * x + 5]) / 4);
  const expectedGrey = [block(0, 0), block(0, 1), block(1, 0), block(1, 1)].flatMap((v) => [v, v, v]);
  t.deepEqual(Array.from(dataset.images.subarray(0, 12)), expectedGrey);
  // A uniform image stays uniform whatever the scale (non-square is stretched; 1x1 is upsampled).
  t.deepEqual(Array.from(dataset.images.subarray(12, 24)), Array.from({ length: 4 }, () => [40, 80, 120]).flat());
  t.deepEqual(Array.from(dataset.images.subarray(24)), new Array<number>(12).fill(77));

  const larger = await loadDataset(dir, { size: 8, channels: 1 });
  t.deepEqual([larger.count, larger.height, larger.width, larger.channels], [3, 8, 8, 1]);
  t.true(larger.images.subarray(64, 128).every((v) => v === luma(40, 80, 120)));
});

test('the MNIST test set can be resized to 32x32 through loadDataset', async (t) => {
  const mnist = await loadDataset('mnist', { size: 32 });
  t.deepEqual(
    [mnist.count, mnist.height, mnist.width, mnist.channels, mnist.labels?.length],
    [10000, 32, 32, 1, 10000],
  );
  let sum = 0;
  for (const v of mnist.images) sum += v;
  t.true(Math.abs(sum / mnist.images.length - 33.8) < 2.5, 'resizing preserves the mean brightness roughly');
});

test('loadImageFolder explains corrupt files, empty folders and bad requests', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(loadImageFolder(dir, { size: 8, channels: 1 }), {
    message: /holds no \.png files .*add PNG images/,
  });
  await t.throwsAsync(loadImageFolder(join(dir, 'missing'), { size: 8, channels: 1 }), {
    message: /missing does not exist or is not a folder/,
  });
  await writeFile(join(dir, 'good.png'), png(1, 1, 0, [1]));
  const truncated = png(4, 4, 0, new Array<number>(16).fill(9));
  await writeFile(join(dir, 'truncated.png'), truncated.subarray(0, truncated.length - 20));
  await t.throwsAsync(loadImageFolder(dir, { size: 8, channels: 1 }), {
    message: /PNG file .*truncated\.png cannot be decoded .*re-export it/,
  });
  await writeFile(join(dir, 'truncated.png'), Buffer.from('GIF89a garbage'));
  await t.throwsAsync(loadImageFolder(dir, { size: 8, channels: 1 }), {
    message: /PNG file .*truncated\.png cannot be decoded/,
  });
  await t.throwsAsync(loadImageFolder(dir, { size: 0, channels: 1 }), {
    message: /size must be an integer in \[1, 4096\]/,
  });
  await t.throwsAsync(loadImageFolder(dir, { size: 2.5, channels: 3 }), { message: /size must be an integer/ });
  await t.throwsAsync(loadImageFolder(dir, { size: 8, channels: 2 as 1 }), {
    message: /channels must be 1 \(grey\) or 3 \(RGB\), got 2/,
  });
  await t.throwsAsync(loadDataset(dir), { message: /holds PNG images; say which square size/ });
});
