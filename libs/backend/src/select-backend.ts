import * as tf from '@tensorflow/tfjs-core';
// The union package registers the gradient of every tfjs kernel as a side effect (tfjs-core's Node bundle has none),
// so tf.grads works on whatever backend selectBackend activates. It shares this tfjs-core instance.
import '@tensorflow/tfjs';
import { installWasmKernels } from './wasm-kernels.ts';

/** Values accepted by the CLI's --backend flag. */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_NAMES)[number];
/** The tfjs backend name that ends up active ('tensorflow' is what tfjs-node and tfjs-node-gpu register). */
export type BackendName = Exclude<BackendRequest, 'auto'>;
/** One candidate tried by {@link selectBackend}. */
export type BackendCandidate = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

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
  auto: ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'],
  tensorflow: ['tfjs-node-gpu', 'tfjs-node'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

const PACKAGE: Record<BackendCandidate, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const NOT_INSTALLED_HINT: Record<BackendCandidate, string> = {
  'tfjs-node-gpu': 'optional dependency; needs an NVIDIA GPU with CUDA 11.2 + cuDNN 8.1',
  'tfjs-node': 'npm install @tensorflow/tfjs-node; its install downloads libtensorflow',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu',
};

/**
 * Loads and activates a tfjs backend. 'auto' tries, in order, @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node
 * (both register tfjs backend 'tensorflow'), wasm, then cpu, and takes the first that initialises; 'tensorflow'
 * tries the two native packages. Each attempt and the choice are logged as one line each, with the reason.
 * On wasm, every replacement kernel of this library (the one list in wasm-kernels.ts) is installed before use by
 * {@link installWasmKernels}, the same call the gradient parity tests make.
 *
 * Promises: on return, `tf.getBackend()` is the chosen backend and the gradients of all tfjs kernels are registered
 * (this module imports @tensorflow/tfjs, which registers them), so tf.grads works through @ddpm/unet and
 * @ddpm/diffusion-core. The attempts record why every earlier candidate was skipped. An explicit request
 * ('tensorflow', 'wasm', 'cpu') that cannot be met rejects with an Error that says how to fix it; it never
 * silently falls back.
 * Does not: set thread counts, or undo a backend activated earlier.
 */
export async function selectBackend(
  requested: BackendRequest,
  log: (line: string) => void = () => undefined,
): Promise<BackendChoice> {
  const attempts: BackendAttempt[] = [];
  for (const candidate of ORDER[requested]) {
    const failure = await tryCandidate(candidate);
    if (failure === undefined) {
      const name: BackendName = candidate === 'wasm' || candidate === 'cpu' ? candidate : 'tensorflow';
      const reason = chosenReason(candidate, requested);
      attempts.push({ name: candidate, ok: true, reason });
      log(`backend: using ${name} (${PACKAGE[candidate]}): ${reason}`);
      return { name, attempts };
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
    case 'tfjs-node':
      return `${how}; native TensorFlow on the CPU`;
    case 'wasm':
      return `${how}; XNNPACK with SIMD, single-threaded, fast conv gradients installed`;
    case 'cpu':
      return `${how}; pure JavaScript, ~30x slower than wasm on convolutions`;
  }
}

/** Returns undefined when the candidate is now the active backend, else why it is not. */
async function tryCandidate(candidate: BackendCandidate): Promise<string | undefined> {
  try {
    await importPackage(PACKAGE[candidate]);
  } catch (error) {
    if (isModuleNotFound(error, PACKAGE[candidate]))
      return `${PACKAGE[candidate]} not installed (${NOT_INSTALLED_HINT[candidate]})`;
    return `${PACKAGE[candidate]} is installed but failed to load: ${messageOf(error)}${candidate === 'tfjs-node-gpu' ? ' (check that CUDA 11.2 and cuDNN 8.1 libraries are on LD_LIBRARY_PATH)' : ''}`;
  }
  const backendName = candidate === 'wasm' || candidate === 'cpu' ? candidate : 'tensorflow';
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
