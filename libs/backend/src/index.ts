export {
  selectBackend,
  parseBackendName,
  BACKEND_NAMES,
  type BackendChoice,
  type BackendAttempt,
  type BackendCandidate,
  type BackendName,
  type BackendRequest,
} from './select-backend.ts';
export {
  installWasmConvGradients,
  uninstallWasmConvGradients,
  wasmConvGradientsInstalled,
} from './install-wasm-conv-gradients.ts';
export {
  installWasmKernels,
  wasmKernelsInstalled,
  WASM_KERNEL_REPLACEMENTS,
  type WasmKernelReplacement,
} from './wasm-kernels.ts';
export { installWasmSharedIdentity, wasmSharedIdentityInstalled } from './wasm-shared-identity.ts';
export { installWasmPooledSum, wasmPooledSumInstalled } from './wasm-pooled-sum.ts';
export { installWasmBatchMatMul, wasmBatchMatMulInstalled } from './wasm-batch-matmul.ts';
export { installWasmHeapSlice, wasmHeapSliceInstalled } from './wasm-heap-slice.ts';
export {
  benchConvGradients,
  UNET_CONV_CASES,
  type ConvBenchCase,
  type ConvBenchOp,
  type ConvBenchOptions,
  type ConvBenchRecord,
} from './bench-conv.ts';
export { type FilterGradientStrategy } from './wasm-conv-backprop-filter.ts';
export { WEBGPU_INSTALL_HINT, type WebGpuAdapterSummary, type WebGpuLimits } from './webgpu-adapter.ts';
export {
  checkWebGpuDevice,
  checkWebGpuTensorBytes,
  maxWebGpuTensorBytes,
  tensorBytes,
  webGpuLimits,
} from './webgpu-guard.ts';
