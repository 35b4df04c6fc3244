import * as tf from '@tensorflow/tfjs-core';
import { mebibytes, type GpuDeviceLike, type WebGpuLimits } from './webgpu-adapter.ts';

// Keeps WebGPU from silently computing wrong results. Dawn reports a failed GPU command (e.g. a tensor over
// maxStorageBufferBindingSize) only as an 'uncapturederror' event: the command does nothing, tfjs reads back zeros
// and the process exits 0 with a wrong result. Device loss is likewise only a promise. This module turns both into
// errors thrown by the next tfjs op or read, and checks planned tensor sizes against the device's limits up front.

/** First fatal error of each guarded device, with how many followed it. */
const failures = new WeakMap<GpuDeviceLike, { message: string; cause?: string; more: number }>();
let current: GpuDeviceLike | undefined;

/**
 * Guards a device and the tfjs backend that uses it. Design: the first uncaptured error or the loss of the device
 * is recorded, and from then on every WebGPU program the backend runs (each op that reaches the GPU) and every read
 * of tensor values (`await t.data()`, `t.dataSync()`) throws it. Dawn raises validation errors while the op records
 * its commands, so the op that caused one throws (not just a later read), and a read already waiting for the GPU
 * throws too: no value computed after the failure reaches the caller, and the error propagates up through tf.grads
 * and the training step and stops the command. {@link checkWebGpuDevice} is the same check for callers that want it
 * between steps (e.g. a device lost while idle).
 * Promises: the thrown Error names the WebGPU error type, Dawn's first message line and the fix; Dawn's whole report
 * is its `cause` (Dawn no longer prints it on stdout, where commands write results). Errors stay recorded (the
 * device's state is unknown): a new device (tf.removeBackend('webgpu'), then selectBackend) is the only way back.
 * Does not: stop work already queued on the GPU, catch errors inside pushErrorScope/popErrorScope, or guard ops
 * that tfjs hands to cpu kernels (they do not touch the device).
 */
export function guardWebGpuDevice(device: GpuDeviceLike, backend: tf.KernelBackend): void {
  current = device;
  const record = (message: string, cause?: string): void => {
    const seen = failures.get(device);
    if (seen === undefined) failures.set(device, { message, cause, more: 0 });
    else seen.more++;
  };
  device.addEventListener('uncapturederror', (event) => {
    event.preventDefault(); // Dawn would print it on stdout, where commands write their results
    record(deviceErrorMessage(event.error), String((event.error as { message?: unknown })?.message ?? event.error));
  });
  void device.lost.then(({ reason, message }) =>
    record(
      `WebGPU device lost (${reason || 'unknown reason'}): ${message}. Tensors on it are gone, so the run stops; ` +
        'if the driver reset or ran out of memory, use a smaller --batch or --backend wasm.',
    ),
  );
  const check = (): void => throwIfFailed(device);
  const gpuBackend = backend as tf.KernelBackend & { runWebGPUProgram: (...args: unknown[]) => tf.TensorInfo };
  if (typeof gpuBackend.runWebGPUProgram !== 'function')
    throw new Error(
      'tfjs-backend-webgpu has no runWebGPUProgram method to guard: install the version package.json names (4.22).',
    );
  const run = gpuBackend.runWebGPUProgram.bind(backend);
  gpuBackend.runWebGPUProgram = (...args: unknown[]) => {
    check();
    const output = run(...args);
    check();
    return output;
  };
  const read = backend.read.bind(backend);
  const readSync = backend.readSync.bind(backend);
  backend.read = async (dataId: object) => {
    check();
    const values = await read(dataId);
    check();
    return values;
  };
  backend.readSync = (dataId: object) => {
    check();
    const values = readSync(dataId);
    check();
    return values;
  };
}

/**
 * Throws the recorded error of the device the webgpu backend last created, if any: for callers that check after
 * each step rather than rely on the next read. Returns normally when webgpu was never activated.
 */
export function checkWebGpuDevice(): void {
  if (current !== undefined) throwIfFailed(current);
}

function throwIfFailed(device: GpuDeviceLike): void {
  const failure = failures.get(device);
  if (failure === undefined) return;
  const more = failure.more > 0 ? ` (${failure.more} further WebGPU errors followed; the first is shown)` : '';
  throw new Error(failure.message + more, failure.cause === undefined ? {} : { cause: failure.cause });
}

// tfjs-backend-webgpu keeps each tensor in one GPU buffer and binds it whole, so a tensor over the binding limit
// fails as above; checking planned sizes first gives a clear error before any work is done.

/**
 * The limits of the active webgpu backend's device, or undefined when webgpu is not the active tfjs backend (other
 * backends have no per-tensor limit). Callers check planned sizes against it before allocating.
 */
export function webGpuLimits(): WebGpuLimits | undefined {
  if (current === undefined || tf.getBackend() !== 'webgpu') return undefined;
  const { maxStorageBufferBindingSize, maxBufferSize } = current.limits;
  return { maxStorageBufferBindingSize, maxBufferSize };
}

/** The largest tensor, in bytes, a device with these limits can use: one buffer, bound whole. */
export function maxWebGpuTensorBytes(limits: WebGpuLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * Checks that a tensor of `bytes` bytes fits the device: throws a RangeError naming the tensor (`what`, e.g.
 * "the batch of noisy images [64, 256, 256, 3]"), its size, the limit and the fix (a smaller --batch or another
 * backend). `limits` defaults to the active webgpu device's; when webgpu is not active it returns without checking.
 */
export function checkWebGpuTensorBytes(bytes: number, what: string, limits = webGpuLimits()): void {
  if (limits === undefined) return;
  const max = maxWebGpuTensorBytes(limits);
  if (bytes <= max) return;
  const which = max === limits.maxStorageBufferBindingSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  throw new RangeError(
    `${what} needs ${mebibytes(bytes)}, over this WebGPU device's ${which} of ${mebibytes(max)} per tensor; ` +
      'use a smaller --batch (the size grows with it), or another backend (--backend wasm or tensorflow).',
  );
}

/** Bytes of a float32 or int32 tensor of this shape, for {@link checkWebGpuTensorBytes}. */
export function tensorBytes(shape: readonly number[]): number {
  return 4 * shape.reduce((a, b) => a * b, 1);
}

/** The message for a GPUError from the 'uncapturederror' event, with the fix for the usual causes. */
function deviceErrorMessage(gpuError: unknown): string {
  const kind = (gpuError as { constructor?: { name?: string } })?.constructor?.name ?? 'GPUError';
  const message = String((gpuError as { message?: unknown })?.message ?? gpuError);
  const first = message.split('\n')[0];
  let fix = 'This is a bug in a tfjs WebGPU kernel or the driver; run with --backend wasm and report it.';
  if (/binding size|maxStorageBufferBindingSize|maxBufferSize|buffer size/i.test(message))
    fix =
      'A tensor is larger than the device binds (see the WebGPU limits in the backend log line): ' +
      'use a smaller --batch, or another backend (--backend wasm).';
  else if (kind === 'GPUOutOfMemoryError')
    fix = 'The GPU ran out of memory: use a smaller --batch, or another backend (--backend wasm).';
  return `WebGPU ${kind}: ${first} Results computed on the GPU since then are wrong, so the run stops. ${fix}`;
}
