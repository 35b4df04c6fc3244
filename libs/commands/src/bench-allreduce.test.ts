import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFingerprint, loadDataset } from '@ddpm/data';
import { resolvePreset } from '@ddpm/unet';
import { spawn } from 'node:child_process';
import { benchData, medianStepMs, presetWithParameters } from './bench-allreduce.ts';

test('an RGB preset gets synthetic images that coordinator and workers load alike, at the preset shape', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-bench-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = resolvePreset('cifar-ddpm');
  const args = benchData(config, join(dir, 'data'));
  const value = (list: string[], flag: string): string => list[list.indexOf(flag) + 1];
  // The same options the coordinator and worker commands derive from these flags.
  const coordinator = await loadDataset(value(args.coordinator, '--data'), { size: config.imageSize, channels: 3 });
  const worker = await loadDataset(value(args.worker, '--data'), { size: Number(value(args.worker, '--image-size')) });
  t.is(coordinator.count, 64);
  t.deepEqual([coordinator.height, coordinator.width, coordinator.channels], [32, 32, 3]);
  t.is(datasetFingerprint(worker), datasetFingerprint(coordinator));
});

test('a greyscale 28x28 preset uses the bundled MNIST, and --params must be a preset size', (t) => {
  t.deepEqual(benchData(resolvePreset('mnist-bench'), '/nonexistent'), {
    coordinator: ['--data', 'mnist'],
    worker: ['--data', 'mnist'],
  });
  t.is(presetWithParameters(35_746_307), 'cifar-ddpm');
  t.throws(() => presetWithParameters(123), {
    message: /--params 123 is not the size of a model this build has; use one of .*35746307 \(cifar-ddpm\)/,
  });
});

test('a benchmark worker that dies fails the benchmark at once with its last words (the coordinator would wait)', async (t) => {
  const coordinator = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'pipe' });
  t.teardown(() => coordinator.kill('SIGKILL'));
  const worker = spawn(process.execPath, ['-e', 'process.stderr.write("ddpm: the GPU is gone\\n"); process.exit(3)'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const started = Date.now();
  const error = await t.throwsAsync(medianStepMs(coordinator, tmpdir(), 4, 1, [worker]));
  t.regex(error?.message ?? '', /benchmark worker 1 exited with status 3: ddpm: the GPU is gone/);
  t.true(Date.now() - started < 20_000);
});
