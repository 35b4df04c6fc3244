import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { encodeImageGrid, gatherBatch, loadDataset } from '@ddpm/data';
import { saveLayersModel } from '@ddpm/evaluation';
import { runCommand } from '@ddpm/runtime';
import { buildProgram } from './program.ts';

const FIXTURE = new URL('../../../apps/cli/test/fixtures/mnist-tiny-step-2.ckpt', import.meta.url).pathname;

/** Runs `ddpm ARGS` in this process; returns the exit code, stdout and stderr. */
async function ddpm(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await runCommand(buildProgram(), ['node', 'ddpm', ...args]), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ddpm-eval-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('real digits cut from grids score near the floor; noise scores far above it', async (t) => {
  const dataset = await loadDataset('mnist');
  const indices = Array.from({ length: 400 }, (_, i) => 9999 - i * 7);
  writeFileSync(join(dir, 'real.png'), encodeImageGrid(gatherBatch(dataset, indices), 400, 28, 28, 1));
  const real = await ddpm(['eval', '--grids', join(dir, 'real.png'), '--count', '400', '--backend', 'wasm']);
  t.is(real.code, 0, real.stderr);
  const report = JSON.parse(real.stdout) as Record<string, number>;
  t.is(report.count, 400);
  t.true(report.fd_ratio < 2, real.stdout);
  t.true(report.confidence > 0.9 && report.label_entropy > 2.2, real.stdout);
  t.is(report.fd_ratio, report.fd / report.fd_floor);

  const noise = Float32Array.from({ length: 400 * 784 }, (_, i) => Math.sin(i * 12.9898));
  writeFileSync(join(dir, 'noise.png'), encodeImageGrid(noise, 400, 28, 28, 1));
  const bad = await ddpm(['eval', '--grids', join(dir, 'noise.png'), '--count', '400', '--backend', 'wasm']);
  t.is(bad.code, 0, bad.stderr);
  t.true((JSON.parse(bad.stdout) as Record<string, number>).fd_ratio > 10, bad.stdout);
});

test.serial('--weights draws --count images in batches from a checkpoint and prints one JSON line', async (t) => {
  const args = [
    'eval',
    '--weights',
    FIXTURE,
    '--count',
    '20',
    '--batch-size',
    '8',
    '--steps',
    '2',
    '--backend',
    'wasm',
    '--record',
    join(dir, 'eval.jsonl'),
  ];
  const result = await ddpm(args);
  t.is(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(report).slice(0, 6), ['fd', 'fd_floor', 'fd_ratio', 'count', 'confidence', 'label_entropy']);
  t.is(report.count, 20);
  const recorded = JSON.parse(readFileSync(join(dir, 'eval.jsonl'), 'utf8')) as Record<string, unknown>;
  t.like(recorded, { step: 2, fd: report.fd, fd_floor: report.fd_floor, count: 20 });
});

test.serial('--record: needs --weights, and an unwritable path fails before sampling, naming the flag', async (t) => {
  const grids = await ddpm(['eval', '--grids', join(dir, 'real.png'), '--record', join(dir, 'x.jsonl')]);
  t.is(grids.code, 2);
  t.regex(grids.stderr, /--record needs --weights/);
  const missing = join(dir, 'no-such-folder', 'eval.jsonl');
  const started = performance.now();
  const bad = await ddpm(['eval', '--weights', FIXTURE, '--count', '20', '--backend', 'wasm', '--record', missing]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--record .*no-such-folder.*cannot append.*pass a writable eval\.jsonl/);
  t.true(performance.now() - started < 5000);
});

test.serial(
  'exit 2 naming what to supply: RGB grids without --features, no source, two sources, too many',
  async (t) => {
    writeFileSync(join(dir, 'rgb.png'), encodeImageGrid(new Float32Array(4 * 32 * 32 * 3), 4, 32, 32, 3));
    const rgb = await ddpm([
      'eval',
      '--grids',
      join(dir, 'rgb.png'),
      '--image-size',
      '32',
      '--channels',
      '3',
      '--count',
      '4',
    ]);
    t.is(rgb.code, 2);
    t.regex(rgb.stderr, /32x32x3.*pass --features model\.json/);
    const none = await ddpm(['eval']);
    t.is(none.code, 2);
    t.regex(none.stderr, /exactly one of --weights FILE .* or --grids/);
    const both = await ddpm(['eval', '--weights', FIXTURE, '--grids', join(dir, 'rgb.png')]);
    t.is(both.code, 2);
    const many = await ddpm(['eval', '--grids', join(dir, 'real.png'), '--count', '6000', '--backend', 'wasm']);
    t.is(many.code, 2);
    t.regex(many.stderr, /grids hold 400 images/);
  },
);

test.serial(
  '--features model.json measures RGB images against a PNG folder; confidence and entropy are null',
  async (t) => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, kernelInitializer: 'ones' }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 3, kernelInitializer: 'ones' }),
      ],
    });
    await saveLayersModel(model, join(dir, 'features'));
    const folder = join(dir, 'rgb-data');
    mkdirSync(folder);
    for (let i = 0; i < 10; i++) {
      const pixels = Float32Array.from({ length: 8 * 8 * 3 }, (_, k) => Math.sin(i * 3.1 + k) * 0.9);
      writeFileSync(join(folder, `image-${i}.png`), encodeImageGrid(pixels, 1, 8, 8, 3));
    }
    const generated = Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, k) => Math.cos(k * 0.37));
    writeFileSync(join(dir, 'rgb-grid.png'), encodeImageGrid(generated, 4, 8, 8, 3));
    const args = ['eval', '--grids', join(dir, 'rgb-grid.png'), '--image-size', '8', '--channels', '3', '--count', '4'];
    const features = ['--features', join(dir, 'features', 'model.json'), '--data', folder, '--backend', 'wasm'];
    const result = await ddpm([...args, ...features]);
    t.is(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    t.is(report.count, 4);
    t.true(typeof report.fd === 'number' && typeof report.fd_floor === 'number');
    t.is(report.confidence, null);
    t.is(report.label_entropy, null);
    t.is(report.features, join(dir, 'features', 'model.json'));
  },
);
