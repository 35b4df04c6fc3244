import * as tf from '@tensorflow/tfjs-core';
import {
  requestWebGpuAdapter,
  summariseAdapter,
  type GpuAdapterLike,
  type GpuDeviceLike,
  type WebGpuAdapterSummary,
} from './webgpu-adapter.ts';
import { guardWebGpuDevice } from './webgpu-guard.ts';

type WebGpuBackendClass = new (device: GpuDeviceLike, adapterInfo?: unknown) => tf.KernelBackend;

/** The adapter of the webgpu backend this module registered, once tfjs has created it. */
let activeAdapter: WebGpuAdapterSummary | undefined;
/** The adapter found by the last activation, handed to the backend factory (an adapter gives one device). */
let pending: GpuAdapterLike | undefined;

/** The outcome of {@link activateWebGpu}: the adapter in use, or why webgpu cannot be used. */
export type WebGpuActivation =
  { readonly ok: true; readonly adapter: WebGpuAdapterSummary } | { readonly ok: false; readonly reason: string };

/**
 * Activates tfjs backend 'webgpu' on the high-performance adapter, registering it under this module's factory
 * (instead of tfjs-backend-webgpu's own) so the device is guarded by {@link guardWebGpuDevice} before its first use.
 * A software/fallback adapter (lavapipe, SwiftShader) is refused unless `allowFallback` (it is slower than wasm).
 *
 * Promises: on `ok`, `tf.getBackend()` is 'webgpu' and the adapter summary describes the device in use; otherwise
 * the reason says what is missing and how to fix it (the Mesa install line when there is no adapter), and the
 * active backend is unchanged. A later call reuses the backend tfjs already created.
 * Does not: register gradients (select-backend.ts imports @tensorflow/tfjs for that).
 */
export async function activateWebGpu(allowFallback: boolean): Promise<WebGpuActivation> {
  let summary = activeAdapter;
  if (summary === undefined || tf.findBackendFactory('webgpu') === null) {
    const adapter = await requestWebGpuAdapter();
    if (typeof adapter === 'string') return { ok: false, reason: adapter };
    summary = summariseAdapter(adapter);
    if (!summary.fallback || allowFallback) {
      pending = adapter;
      const failure = await registerFactory();
      if (failure !== undefined) return { ok: false, reason: failure };
    }
  }
  if (summary.fallback && !allowFallback) return { ok: false, reason: refusal(summary) };
  try {
    if (!(await tf.setBackend('webgpu')))
      return { ok: false, reason: "backend 'webgpu' failed to initialise (tfjs printed the cause above)" };
  } catch (error) {
    return { ok: false, reason: `backend 'webgpu' failed to initialise: ${messageOf(error)}` };
  }
  return { ok: true, adapter: activeAdapter ?? summary };
}

function refusal(summary: WebGpuAdapterSummary): string {
  return (
    `only a software/fallback adapter (${summary.vendor} ${summary.architecture}), slower than wasm: ` +
    'it is used only when asked for by name (--backend webgpu)'
  );
}

/** Imports tfjs-backend-webgpu and replaces its 'webgpu' factory with one that guards the device. */
async function registerFactory(): Promise<string | undefined> {
  let WebGPUBackend: WebGpuBackendClass;
  try {
    const specifier = '@tensorflow/tfjs-backend-webgpu';
    ({ WebGPUBackend } = (await import(specifier)) as { WebGPUBackend: WebGpuBackendClass });
  } catch (error) {
    return `@tensorflow/tfjs-backend-webgpu failed to load: ${messageOf(error)} (npm ci installs it)`;
  }
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = pending ?? (await requestWebGpuAdapter());
      pending = undefined;
      if (typeof adapter === 'string') throw new Error(adapter);
      const device = await adapter.requestDevice(deviceDescriptor(adapter));
      const backend = new WebGPUBackend(device, adapter.info);
      guardWebGpuDevice(device, backend);
      activeAdapter = summariseAdapter(adapter);
      return backend;
    },
    3,
  );
  return undefined;
}

/** What tfjs-backend-webgpu 4.22 asks for: the adapter's own limits, and timestamp queries when there are any. */
function deviceDescriptor(adapter: GpuAdapterLike): object {
  const limits = adapter.limits;
  return {
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
