import test from 'ava';
import { execFile } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './select-backend.ts';
import { WEBGPU_INSTALL_HINT } from './webgpu-adapter.ts';

// Facts about this machine these tests rely on: the optional package `webgpu` is installed and Mesa >= 25's
// lavapipe gives a software adapter (.ci/run installs it). Without an adapter they fail with the Mesa install line:
// they never skip.

test.serial("'webgpu' by name activates webgpu, on a software adapter too, and logs the adapter", async (t) => {
  const lines: string[] = [];
  const choice = await selectBackend('webgpu', (line) => lines.push(line));
  t.is(choice.name, 'webgpu');
  t.is(tf.getBackend(), 'webgpu');
  const adapter = choice.adapter;
  if (adapter === undefined) return t.fail('no adapter in the choice');
  t.true(adapter.limits.maxStorageBufferBindingSize > 0 && adapter.limits.maxBufferSize > 0);
  t.is(lines.length, 1);
  t.true(
    lines[0].includes(`using webgpu (@tensorflow/tfjs-backend-webgpu): requested explicitly; WebGPU through Dawn on `),
  );
  t.true(lines[0].includes(`${adapter.vendor} ${adapter.architecture}`), 'vendor and architecture');
  t.regex(lines[0], adapter.fallback ? /software\/fallback adapter/ : /hardware adapter/);
  t.regex(lines[0], /maxStorageBufferBindingSize \d+\.\d MiB \(\d+ bytes\), maxBufferSize \d+\.\d MiB \(\d+ bytes\)/);
  const squares = tf.square(tf.tensor1d([1, 2, 3]));
  t.deepEqual(Array.from(await squares.data()), [1, 4, 9]);
  squares.dispose();
});

test.serial('lavapipe is reported as a software/fallback adapter', async (t) => {
  const { adapter } = await selectBackend('webgpu');
  t.not(adapter, undefined);
  if (adapter?.vendor !== 'mesa' || !/llvmpipe/.test(adapter.description)) return t.pass('not lavapipe');
  t.is(adapter.architecture, 'software');
  t.true(adapter.fallback);
  t.is(adapter.limits.maxStorageBufferBindingSize, 128 * 2 ** 20);
});

test.serial('a second selection reuses the same device', async (t) => {
  await selectBackend('webgpu');
  const device = (tf.backend() as unknown as { device: object }).device;
  await tf.setBackend('cpu');
  await selectBackend('webgpu');
  t.is((tf.backend() as unknown as { device: object }).device, device);
});

test.serial('gradients flow on webgpu (tf.grads through @tensorflow/tfjs)', async (t) => {
  await selectBackend('webgpu');
  const [dx] = tf.grads((x: tf.Tensor) => tf.sum(tf.square(x)))([tf.tensor1d([1, -2, 3])]);
  t.deepEqual(Array.from(await dx.data()), [2, -4, 6]);
  dx.dispose();
});

test('without a WebGPU adapter, --backend webgpu rejects with the Mesa install line', async (t) => {
  // The Vulkan loader finds no driver when pointed at a missing manifest, as on a machine without Mesa >= 25.
  const code = `import { selectBackend } from ${JSON.stringify(new URL('./select-backend.ts', import.meta.url).href)};
    try { await selectBackend('webgpu'); process.stdout.write('activated'); }
    catch (error) { process.stdout.write(error.message); }`;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import=tsx', '--input-type=module', '-e', code],
      { env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' } },
      (error, out) => (error === null ? resolve(out) : reject(error)),
    ),
  );
  t.regex(stdout, /^Backend 'webgpu' could not be activated \(webgpu: no WebGPU adapter found\. /);
  t.true(stdout.includes(WEBGPU_INSTALL_HINT), stdout);
  t.true(stdout.includes('apt-get install -y -t bookworm-backports mesa-vulkan-drivers'));
});
