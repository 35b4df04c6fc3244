import test from 'ava';
import { execFile } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './select-backend.ts';
import {
  checkWebGpuDevice,
  checkWebGpuTensorBytes,
  maxWebGpuTensorBytes,
  tensorBytes,
  webGpuLimits,
} from './webgpu-guard.ts';

// The WebGPU guards on the machine's adapter (lavapipe in CI: 128 MiB maxStorageBufferBindingSize). The failing
// tests poison their device, so each makes a fresh one first.

const LAVAPIPE = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 ** 32 - 1 };

/** A webgpu backend on a new device, without tfjs's hand-off of small ops to cpu kernels. */
async function freshWebGpu(): Promise<{ destroy(): void }> {
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  await selectBackend('webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return (tf.backend() as unknown as { device: { destroy(): void } }).device;
}

test('the size check refuses a tensor over the binding limit, naming size, limit and fix', (t) => {
  const error = t.throws(() => checkWebGpuTensorBytes(tensorBytes([40, 1024, 1024]), 'the test tensor', LAVAPIPE));
  t.true(error instanceof RangeError);
  t.is(
    error?.message,
    "the test tensor needs 160.0 MiB (167772160 bytes), over this WebGPU device's maxStorageBufferBindingSize of " +
      '128.0 MiB (134217728 bytes) per tensor; use a smaller --batch (the size grows with it), or another backend ' +
      '(--backend wasm or tensorflow).',
  );
  t.notThrows(() => checkWebGpuTensorBytes(128 * 2 ** 20, 'exactly the limit', LAVAPIPE));
  t.is(maxWebGpuTensorBytes({ maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 28 }), 2 ** 28);
});

test.serial('the limits are those of the active webgpu device, and undefined on other backends', async (t) => {
  const { adapter } = await selectBackend('webgpu');
  t.deepEqual(webGpuLimits(), adapter?.limits);
  const max = maxWebGpuTensorBytes(adapter?.limits ?? LAVAPIPE);
  const error = t.throws(() => checkWebGpuTensorBytes(max + 4, 'one float too many'));
  t.regex(error?.message ?? '', /^one float too many needs .* per tensor; use a smaller --batch/);
  await tf.setBackend('cpu');
  t.is(webGpuLimits(), undefined);
  t.notThrows(() => checkWebGpuTensorBytes(2 * max, 'anything on cpu'));
});

test.serial(
  'a tensor over the binding limit: the op throws the WebGPU error with the fix, then every read',
  async (t) => {
    await freshWebGpu();
    const limits = webGpuLimits();
    if (limits === undefined) return t.fail('webgpu is not active');
    const small = tf.add(tf.tensor1d([1, 2]), 1);
    const error = t.throws(() => tf.fill([maxWebGpuTensorBytes(limits) / 4 + 1024], 1));
    const message = error?.message ?? '';
    t.regex(
      message,
      /^WebGPU GPUValidationError: Binding size \(\d+\) .* is larger than the maximum storage buffer binding size/,
    );
    t.regex(message, /Results computed on the GPU since then are wrong, so the run stops/);
    t.regex(message, /use a smaller --batch, or another backend \(--backend wasm\)/);
    t.regex(String(error?.cause), /While calling \[Device\]\.CreateBindGroup/, "Dawn's whole report is the cause");
    t.throws(() => checkWebGpuDevice(), { message: /^WebGPU GPUValidationError: Binding size/ });
    await t.throwsAsync(small.data(), { message: /^WebGPU GPUValidationError: Binding size/ }, 'reads throw too');
    t.throws(() => tf.sub(small, 1), { message: /^WebGPU GPUValidationError: Binding size/ }, 'and later ops');
    small.dispose();
  },
);

test.serial('a lost device: the next read throws, and a fresh device works again', async (t) => {
  const device = await freshWebGpu();
  t.notThrows(() => checkWebGpuDevice());
  const x = tf.add(tf.tensor1d([1, 2]), 1);
  device.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const error = await t.throwsAsync(x.data());
  t.regex(error?.message ?? '', /^WebGPU device lost \(destroyed\): .*so the run stops/);
  x.dispose();
  await freshWebGpu();
  const y = tf.add(tf.tensor1d([1, 2]), 1);
  t.deepEqual(Array.from(await y.data()), [2, 3]);
  y.dispose();
});

test('a process that computes an oversized result exits non-zero with the message, not 0 with zeros', async (t) => {
  const url = (file: string): string => JSON.stringify(new URL(file, import.meta.url).href);
  const code = `import * as tf from '@tensorflow/tfjs-core';
    import { selectBackend } from ${url('./select-backend.ts')};
    await selectBackend('webgpu');
    const y = tf.add(tf.fill([160 * 2 ** 18], 1), 1);
    process.stdout.write(String((await y.data())[0]));`;
  const outcome = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import=tsx', '--input-type=module', '-e', code],
      (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
  t.not(outcome.code, 0);
  t.is(outcome.stdout, '', 'no value was printed');
  t.regex(outcome.stderr, /Error: WebGPU GPUValidationError: Binding size \(167772160\)/);
});
