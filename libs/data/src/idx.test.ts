import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx } from './idx.ts';
import { bundledMnistDir, loadMnist } from './mnist.ts';

/** An IDX file built byte by byte from the format description (big-endian int32 header). */
function idx(magic: number, dims: number[], payloadLength: number): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const payload = Buffer.alloc(payloadLength);
  for (let i = 0; i < payloadLength; i++) payload[i] = (i * 7) % 256;
  return Buffer.concat([header, payload]);
}

async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-data-idx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('readIdx reads a hand-built gzip IDX exactly', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.gz');
  await writeFile(path, gzipSync(idx(0x803, [2, 3, 4], 24)));
  const result = await readIdx(path);
  t.is(result.magic, 0x803);
  t.deepEqual(result.dims, [2, 3, 4]);
  t.deepEqual(
    Array.from(result.data),
    Array.from({ length: 24 }, (_, i) => (i * 7) % 256),
  );
});

interface BrokenCase {
  /** Files to write into an otherwise empty folder. */
  readonly files: (good: { images: Buffer; labels: Buffer }) => Record<string, Buffer>;
  /** What the message must say: the file it names and the fix. */
  readonly message: RegExp;
}

const brokenMnist = test.macro({
  async exec(t, broken: BrokenCase) {
    const dir = await tempDir(t);
    const good = {
      images: await readFile(join(bundledMnistDir(), 't10k-images-idx3-ubyte.gz')),
      labels: await readFile(join(bundledMnistDir(), 't10k-labels-idx1-ubyte.gz')),
    };
    for (const [name, bytes] of Object.entries(broken.files(good))) await writeFile(join(dir, name), bytes);
    const error = await t.throwsAsync(loadMnist(dir));
    t.regex(error?.message ?? '', broken.message);
  },
  title: (name = '') => `loadMnist explains ${name}`,
});

test('a missing folder', async (t) => {
  await t.throwsAsync(loadMnist('/no/such/mnist'), {
    message: /MNIST folder \/no\/such\/mnist does not exist.*pass the folder that holds train-images/,
  });
});

test('a missing labels file', brokenMnist, {
  files: (good) => ({ 't10k-images-idx3-ubyte.gz': good.images }),
  message: /has no t10k labels file \(looked for t10k-labels-idx1-ubyte\.gz, .*\); put the t10k labels file there/,
});

test('a truncated gzip', brokenMnist, {
  files: (good) => ({
    't10k-images-idx3-ubyte.gz': good.images.subarray(0, good.images.length >> 1),
    't10k-labels-idx1-ubyte.gz': good.labels,
  }),
  message: /t10k-images-idx3-ubyte\.gz starts like gzip but is corrupt or truncated.*download it again/,
});

test('a garbled gzip body', brokenMnist, {
  files: (good) => {
    const garbled = Buffer.from(good.labels);
    garbled.fill(0x55, 20, 200);
    return { 't10k-images-idx3-ubyte.gz': good.images, 't10k-labels-idx1-ubyte.gz': garbled };
  },
  message: /t10k-labels-idx1-ubyte\.gz starts like gzip but is corrupt.*download it again/,
});

test('a file that is neither gzip nor IDX', brokenMnist, {
  files: (good) => ({
    't10k-images-idx3-ubyte.gz': Buffer.from('<html>not found</html>'),
    't10k-labels-idx1-ubyte.gz': good.labels,
  }),
  message: /t10k-images-idx3-ubyte\.gz is neither gzip .* first bytes are 3c 68 74 6d.*not an HTML page/,
});

test('a wrong magic', brokenMnist, {
  files: () => ({ 't10k-images-idx3-ubyte': idx(0x0d03, [1, 2, 2], 4), 't10k-labels-idx1-ubyte': idx(0x801, [1], 1) }),
  message: /t10k-images-idx3-ubyte has magic 0x00000d03, not an unsigned-byte IDX.*not an MNIST-style file/,
});

test('swapped images and labels files', brokenMnist, {
  files: () => ({ 't10k-images-idx3-ubyte': idx(0x801, [4], 4), 't10k-labels-idx1-ubyte': idx(0x803, [4, 2, 2], 16) }),
  message: /t10k-images-idx3-ubyte has IDX magic 0x00000801, not 0x00000803 \(images\).*swapped/,
});

test('a truncated payload', brokenMnist, {
  files: () => ({
    't10k-images-idx3-ubyte': idx(0x803, [10, 28, 28], 9 * 784),
    't10k-labels-idx1-ubyte': idx(0x801, [10], 10),
  }),
  message:
    /t10k-images-idx3-ubyte is truncated: its header \[10, 28, 28\] needs 7840 payload bytes but only 7056.*download it again/,
});

test('trailing bytes', brokenMnist, {
  files: () => ({ 't10k-images-idx3-ubyte': idx(0x803, [1, 2, 2], 4), 't10k-labels-idx1-ubyte': idx(0x801, [1], 3) }),
  message: /t10k-labels-idx1-ubyte has 2 bytes more than its header \[1\] declares/,
});

test('an images/labels count mismatch', brokenMnist, {
  files: () => ({
    'train-images-idx3-ubyte.gz': gzipSync(idx(0x803, [5, 2, 2], 20)),
    'train-labels-idx1-ubyte.gz': gzipSync(idx(0x801, [4], 4)),
  }),
  message:
    /count mismatch: .*train-images-idx3-ubyte\.gz holds 5 images but .*train-labels-idx1-ubyte\.gz holds 4 labels.*use the matching pair/,
});

test('loadMnist prefers the train split and reads a small hand-built one exactly', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx(0x803, [3, 2, 2], 12)));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idx(0x801, [3], 3));
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), idx(0x803, [1, 1, 1], 1));
  const dataset = await loadMnist(dir);
  t.deepEqual(
    [dataset.name, dataset.count, dataset.height, dataset.width, dataset.channels],
    ['mnist:train', 3, 2, 2, 1],
  );
  t.deepEqual(Array.from(dataset.images), [0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77]);
  t.deepEqual(Array.from(dataset.labels ?? []), [0, 7, 14]);
  await t.throwsAsync(loadMnist(dir, { split: 't10k' }), { message: /no t10k labels file/ });
});
