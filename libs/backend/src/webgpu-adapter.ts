// WebGPU in Node through Dawn's bindings (the optional npm package `webgpu`): exposing navigator.gpu, finding an
// adapter and describing it. Structural types stand in for @webgpu/types, which the workspace does not compile.

/** How to get an adapter on a machine without a GPU driver: Mesa's software Vulkan driver (lavapipe). */
export const WEBGPU_INSTALL_HINT =
  "Install Mesa >= 25's Vulkan driver (lavapipe, a software GPU) or your GPU's Vulkan driver. On Debian 12, as root: " +
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list" +
  ' && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers' +
  " (Debian 12's own Mesa 22 gives no adapter).";

/** The limits tfjs-backend-webgpu's buffers must respect: one tensor is one buffer, bound whole. */
export interface WebGpuLimits {
  /** Largest buffer a shader may bind, in bytes (128 MiB on lavapipe). */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer the device creates, in bytes. */
  readonly maxBufferSize: number;
}

/** What selectBackend logs and `ddpm bench step` prints about the adapter in use. */
export interface WebGpuAdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  /** The driver's own description, e.g. 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)'; may be empty. */
  readonly description: string;
  /** True for a software or fallback adapter (isFallbackAdapter, or architecture 'software'). */
  readonly fallback: boolean;
  readonly limits: WebGpuLimits;
}

/** The parts of GPUDevice this library uses. */
export interface GpuDeviceLike {
  readonly limits: WebGpuLimits;
  readonly lost: Promise<{ readonly reason: string; readonly message: string }>;
  addEventListener(
    type: 'uncapturederror',
    listener: (event: { readonly error: unknown; preventDefault(): void }) => void,
  ): void;
  destroy(): void;
}

/** The parts of GPUAdapter this library uses. */
export interface GpuAdapterLike {
  readonly info: { readonly vendor: string; readonly architecture: string; readonly description?: string };
  readonly isFallbackAdapter?: boolean;
  readonly features: { has(name: string): boolean };
  readonly limits: WebGpuLimits & Readonly<Record<string, number>>;
  requestDevice(descriptor: object): Promise<GpuDeviceLike>;
}

interface GpuLike {
  requestAdapter(options?: object): Promise<GpuAdapterLike | null>;
}

interface WebGpuPackage {
  readonly create: (flags: string[]) => GpuLike;
  readonly globals: object;
}

let gpu: GpuLike | undefined;

/**
 * Loads the `webgpu` package and makes the WebGPU globals (GPUBufferUsage, ...) and `navigator.gpu` available, as
 * tfjs-backend-webgpu expects (it registers 'webgpu' on import only if navigator.gpu exists, so import it after).
 * Promises: idempotent; resolves to why WebGPU is unavailable (a string) or to the GPU object.
 */
export async function installNavigatorGpu(): Promise<GpuLike | string> {
  if (gpu !== undefined) return gpu;
  let loaded: WebGpuPackage;
  try {
    const specifier = 'webgpu'; // a variable keeps TypeScript from needing the optional package's types
    loaded = (await import(specifier)) as WebGpuPackage;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      return "webgpu not installed (optional dependency, Dawn's Node bindings: npm install webgpu)";
    return `webgpu is installed but failed to load: ${error instanceof Error ? error.message : String(error)}`;
  }
  Object.assign(globalThis, loaded.globals);
  gpu = loaded.create([]);
  const holder = globalThis as { navigator?: object };
  // Node 20 has no navigator; Node >= 21 has one without gpu.
  if (holder.navigator === undefined)
    Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
  Object.defineProperty(holder.navigator, 'gpu', { value: gpu, writable: true, configurable: true });
  return gpu;
}

/** Asks for the high-performance adapter, as tfjs-backend-webgpu does. Resolves to it, or to why there is none. */
export async function requestWebGpuAdapter(): Promise<GpuAdapterLike | string> {
  const loaded = await installNavigatorGpu();
  if (typeof loaded === 'string') return loaded;
  const adapter = await loaded.requestAdapter({ powerPreference: 'high-performance' });
  return adapter ?? `no WebGPU adapter found. ${WEBGPU_INSTALL_HINT}`;
}

/** The adapter's vendor, architecture, whether it is a software/fallback adapter, and its buffer limits. */
export function summariseAdapter(adapter: GpuAdapterLike): WebGpuAdapterSummary {
  const info = adapter.info as GpuAdapterLike['info'] & { readonly isFallbackAdapter?: boolean };
  const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description ?? '',
    fallback: fallback || info.architecture === 'software',
    limits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  };
}

/** One line for logs: "mesa software (llvmpipe ...), fallback, maxStorageBufferBindingSize 128 MiB, ...". */
export function describeAdapter(summary: WebGpuAdapterSummary): string {
  const { vendor, architecture, description, fallback, limits } = summary;
  return (
    `${vendor || 'unknown vendor'} ${architecture || 'unknown architecture'}` +
    (description === '' ? '' : ` (${description})`) +
    `, ${fallback ? 'software/fallback adapter' : 'hardware adapter'}` +
    `, maxStorageBufferBindingSize ${mebibytes(limits.maxStorageBufferBindingSize)}` +
    `, maxBufferSize ${mebibytes(limits.maxBufferSize)}`
  );
}

/** Bytes as MiB with one decimal, the exact count in parentheses. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`;
}
