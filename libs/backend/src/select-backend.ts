import * as tf from '@tensorflow/tfjs-core';
// The union package registers the gradient of every tfjs kernel as a side effect (tfjs-core's Node bundle has none),
// so tf.grads works on whatever backend selectBackend activates. It shares this tfjs-core instance.
import '@tensorflow/tfjs';
import { installWasmKernels } from './wasm-kernels.ts';
import { describeAdapter, type WebGpuAdapterSummary } from './webgpu-adapter.ts';
import { activateWebGpu } from './webgpu-backend.ts';

/** Values accepted by the CLI's --backend flag. */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_NAMES)[number];
/** The tfjs backend name that ends up active ('tensorflow' is what tfjs-node and tfjs-node-gpu register). */
export type BackendName = Exclude<BackendRequest, 'auto'>;
/** One candidate tried by {@link selectBackend}. */
export type BackendCandidate = 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';

export interface BackendAttempt {
  readonly name: BackendCandidate;
  readonly ok: boolean;
  /** Why it was chosen, or why it could not be used. */
  readonly reason: string;
}

export interface BackendChoice {
  readonly name: BackendName;
  /** Every candidate tried, in order; the last one is the chosen one. */
  readonly attempts: readonly BackendAttempt[];
  /** For 'webgpu': the adapter in use (vendor, architecture, whether software/fallback, buffer limits). */
  readonly adapter?: WebGpuAdapterSummary;
}

/**
 * Parses the CLI's --backend value. Case-insensitive; 'tfjs-node' and 'tfjs-node-gpu' are accepted as 'tensorflow'.
 * Throws an Error listing the accepted values otherwise.
 */
export function parseBackendName(value: string): BackendRequest {
  const normalised = value.trim().toLowerCase();
  if (normalised === 'tfjs-node' || normalised === 'tfjs-node-gpu') return 'tensorflow';
  const found = BACKEND_NAMES.find((name) => name === normalised);
  if (found === undefined)
    throw new Error(
      `Unknown backend '${value}'. Use one of: ${BACKEND_NAMES.join(', ')} ('auto' picks the fastest that loads).`,
    );
  return found;
}

const ORDER: Record<BackendRequest, readonly BackendCandidate[]> = {
  auto: ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'],
  tensorflow: ['tfjs-node-gpu', 'tfjs-node'],
  webgpu: ['webgpu'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

const PACKAGE: Record<BackendCandidate, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const NOT_INSTALLED_HINT: Record<BackendCandidate, string> = {
  'tfjs-node-gpu': 'optional dependency; needs an NVIDIA GPU with CUDA 11.2 + cuDNN 8.1',
  webgpu: 'npm ci installs it',
  'tfjs-node': 'npm install @tensorflow/tfjs-node; its install downloads libtensorflow',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu',
};

/**
 * Loads and activates a tfjs backend. 'auto' tries, in order, @tensorflow/tfjs-node-gpu, webgpu on a hardware
 * adapter, @tensorflow/tfjs-node (both native packages register tfjs backend 'tensorflow'), wasm, then cpu, and
 * takes the first that initialises; 'tensorflow' tries the two native packages. A software/fallback WebGPU adapter
 * (Mesa's lavapipe) is used only when 'webgpu' is asked for by name; its device is guarded (webgpu-guard.ts).
 * Each attempt and the choice are logged as one line each, with the reason; for webgpu the line names the adapter
 * (vendor, architecture, whether software/fallback) and its buffer limits.
 * On wasm, every replacement kernel of this library (the one list in wasm-kernels.ts) is installed before use by
 * {@link installWasmKernels}, the same call the gradient parity tests make.
 *
 * Promises: on return, `tf.getBackend()` is the chosen backend and the gradients of all tfjs kernels are registered
 * (this module imports @tensorflow/tfjs, which registers them), so tf.grads works through @ddpm/unet and
 * @ddpm/diffusion-core. The attempts record why every earlier candidate was skipped. An explicit request
 * ('tensorflow', 'webgpu', 'wasm', 'cpu') that cannot be met rejects with an Error that says how to fix it; it never
 * silently falls back.
 * Does not: set thread counts, or undo a backend activated earlier.
 */
export async function selectBackend(
  requested: BackendRequest,
  log: (line: string) => void = () => undefined,
): Promise<BackendChoice> {
  const attempts: BackendAttempt[] = [];
  for (const candidate of ORDER[requested]) {
    let failure: string | undefined;
    let adapter: WebGpuAdapterSummary | undefined;
    if (candidate === 'webgpu') {
      const activation = await activateWebGpu(requested === 'webgpu');
      if (activation.ok) adapter = activation.adapter;
      else failure = activation.reason;
    } else failure = await tryCandidate(candidate);
    if (failure === undefined) {
      const name = backendNameOf(candidate);
      let reason = chosenReason(candidate, requested);
      if (adapter !== undefined) reason += describeAdapter(adapter);
      attempts.push({ name: candidate, ok: true, reason });
      log(`backend: using ${name} (${PACKAGE[candidate]}): ${reason}`);
      return adapter === undefined ? { name, attempts } : { name, attempts, adapter };
    }
    attempts.push({ name: candidate, ok: false, reason: failure });
    log(`backend: skipped ${candidate}: ${failure}`);
  }
  const why = attempts.map((a) => `${a.name}: ${a.reason}`).join('; ');
  throw new Error(`Backend '${requested}' could not be activated (${why}). ${fixFor(requested)}`);
}

function fixFor(requested: BackendRequest): string {
  switch (requested) {
    case 'tensorflow':
      return 'Install @tensorflow/tfjs-node-gpu (NVIDIA GPU with CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node (CPU), or pass --backend auto / wasm.';
    case 'webgpu':
      return 'Fix the cause in parentheses, or pass --backend auto / wasm.';
    case 'wasm':
      return 'Reinstall @tensorflow/tfjs-backend-wasm (its .wasm files must sit next to its dist/), or pass --backend cpu.';
    case 'cpu':
      return 'Reinstall @tensorflow/tfjs-backend-cpu.';
    case 'auto':
      return 'Reinstall the workspace dependencies (npm ci); @tensorflow/tfjs-backend-cpu is always expected to load.';
  }
}

function chosenReason(candidate: BackendCandidate, requested: BackendRequest): string {
  const how = requested === 'auto' ? 'first candidate that loaded' : 'requested explicitly';
  switch (candidate) {
    case 'tfjs-node-gpu':
      return `${how}; native TensorFlow with CUDA`;
    case 'webgpu':
      return `${how}; WebGPU through Dawn on `;
    case 'tfjs-node':
      return `${how}; native TensorFlow on the CPU`;
    case 'wasm':
      return `${how}; XNNPACK with SIMD, single-threaded, fast conv gradients installed`;
    case 'cpu':
      return `${how}; pure JavaScript, ~30x slower than wasm on convolutions`;
  }
}

function backendNameOf(candidate: BackendCandidate): BackendName {
  return candidate === 'tfjs-node-gpu' || candidate === 'tfjs-node' ? 'tensorflow' : candidate;
}

/** Returns undefined when the candidate (not webgpu) is now the active backend, else why it is not. */
async function tryCandidate(candidate: Exclude<BackendCandidate, 'webgpu'>): Promise<string | undefined> {
  try {
    await importPackage(PACKAGE[candidate]);
  } catch (error) {
    if (isModuleNotFound(error, PACKAGE[candidate]))
      return `${PACKAGE[candidate]} not installed (${NOT_INSTALLED_HINT[candidate]})`;
    return `${PACKAGE[candidate]} is installed but failed to load: ${messageOf(error)}${candidate === 'tfjs-node-gpu' ? ' (check that CUDA 11.2 and cuDNN 8.1 libraries are on LD_LIBRARY_PATH)' : ''}`;
  }
  const backendName = backendNameOf(candidate);
  if (tf.findBackendFactory(backendName) === null)
    return `${PACKAGE[candidate]} loaded but registered no '${backendName}' backend (version mismatch with @tensorflow/tfjs-core 4.22?)`;
  if (candidate === 'wasm') installWasmKernels();
  try {
    if (!(await tf.setBackend(backendName)))
      return `backend '${backendName}' failed to initialise (tfjs printed the cause above)`;
  } catch (error) {
    return `backend '${backendName}' failed to initialise: ${messageOf(error)}`;
  }
  return undefined;
}

async function importPackage(specifier: string): Promise<unknown> {
  // A variable specifier keeps TypeScript from requiring type declarations for optional packages.
  const loaded: unknown = await import(specifier);
  return loaded;
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  const message = messageOf(error);
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(specifier);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
