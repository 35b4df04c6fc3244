import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace-wasm-kernel.ts';

/** The part of the wasm backend the pooled Sum needs: a view of a tensor's data in the wasm heap. */
interface HeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

let originalSum: tf.KernelConfig | undefined;

/**
 * How a float32 Sum reduces, as one average pooling: x viewed as [outer, reduced, 1, inner] with a [reduced, 1]
 * window. Only when the reduced axes are one contiguous block that leaves the last axis alone (the channel sums
 * of GroupNorm over [1, 2], bias gradients over [0, 1, 2]); undefined for anything else.
 */
export function pooledSumLayout(
  shape: readonly number[],
  axes: readonly number[],
): { outer: number; reduced: number; inner: number } | undefined {
  const rank = shape.length;
  if (rank < 2 || axes.length === 0) return undefined;
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first < 0 || last >= rank - 1 || last - first + 1 !== sorted.length) return undefined;
  const product = (from: number, to: number): number => shape.slice(from, to).reduce((p, s) => p * s, 1);
  const layout = { outer: product(0, first), reduced: product(first, last + 1), inner: product(last + 1, rank) };
  return layout.outer * layout.reduced * layout.inner === 0 ? undefined : layout;
}

/**
 * Sum for the wasm backend. wasm's own Sum reduces only innermost axes, so for channel sums it first transposes
 * the whole tensor and then runs a scalar loop (~1 ms for a [32, 28, 28, 32] activation); XNNPACK's average
 * pooling reads channels-last data once (~0.1 ms). This kernel pools and multiplies by the window size.
 *
 * Promises: for float32 inputs whose reduced axes are one contiguous block excluding the last axis, the sum
 * (as mean x count, so within a few float32 ulps of wasm's own Sum, not bit-identical), honouring keepDims.
 * Every other call (int32/bool, the last axis reduced, non-contiguous axes, empty tensors) goes to wasm's
 * original Sum unchanged.
 * Preconditions: installed by {@link installWasmPooledSum}; `backend` is the wasm backend.
 */
function pooledSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x } = args.inputs;
  const attrs = args.attrs ?? {};
  if (x === undefined) throw new Error('Sum (wasm, @ddpm/backend) needs input x.');
  const axis = attrs['axis'];
  const axes = typeof axis === 'number' ? [axis] : Array.isArray(axis) ? (axis as number[]) : [];
  const layout = x.dtype === 'float32' ? pooledSumLayout(x.shape, axes) : undefined;
  if (layout === undefined || originalSum === undefined) {
    if (originalSum === undefined)
      throw new Error(
        'Sum (wasm, @ddpm/backend): the original wasm Sum kernel is missing; import @tensorflow/tfjs-backend-wasm before installWasmPooledSum().',
      );
    return originalSum.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as HeapBackend;
  const run = (name: string, inputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap): tf.TensorInfo => {
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel === undefined)
      throw new Error(
        `Sum (wasm, @ddpm/backend) needs wasm's '${name}' kernel; use @tensorflow/tfjs-backend-wasm 4.22.`,
      );
    return kernel.kernelFunc({
      inputs,
      backend: args.backend as tf.KernelBackend,
      attrs: kernelAttrs,
    }) as tf.TensorInfo;
  };
  const { outer, reduced, inner } = layout;
  const view = run(tf.Reshape, { x }, { shape: [outer, reduced, 1, inner] });
  let pooled: tf.TensorInfo;
  try {
    pooled = run(tf.AvgPool, { x: view }, {
      filterSize: [reduced, 1],
      strides: [1, 1],
      pad: 'valid',
      dimRoundingMode: null,
    } as unknown as tf.NamedAttrMap);
  } finally {
    backend.disposeData(view.dataId);
  }
  const values = backend.typedArrayFromHeap(pooled);
  for (let i = 0; i < values.length; i++) values[i] *= reduced;
  const rank = x.shape.length;
  const reducedAxes = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const shape =
    attrs['keepDims'] === true
      ? x.shape.map((s, a) => (reducedAxes.has(a) ? 1 : s))
      : x.shape.filter((_, a) => !reducedAxes.has(a));
  return { dataId: pooled.dataId, shape, dtype: 'float32' };
}

/**
 * Replaces the wasm backend's Sum kernel by {@link pooledSum}: channel sums (GroupNorm statistics, bias and
 * GroupNorm-parameter gradients, ~100 Sum calls per U-Net training step) run as one XNNPACK average pooling
 * instead of a transpose plus a scalar loop; all other sums still run wasm's own kernel.
 *
 * Promises: idempotent (returns false when already installed). Works before or after `tf.setBackend('wasm')`.
 * Preconditions: '@tensorflow/tfjs-backend-wasm' has been imported.
 * Does not: touch other backends, or make float sums bit-identical to wasm's own (they agree to ~1e-6 relative).
 * @returns true if this call installed the kernel.
 */
export function installWasmPooledSum(): boolean {
  if (wasmPooledSumInstalled()) return false;
  if (tf.getKernel(tf.Sum, 'wasm') === undefined)
    throw new Error(
      'installWasmPooledSum: the wasm backend has no Sum kernel; import @tensorflow/tfjs-backend-wasm first.',
    );
  // The original's setup (binding its wasm function) must still run when the backend initialises after this.
  originalSum = replaceWasmKernel(tf.Sum, pooledSum as unknown as tf.KernelFunc, true);
  return true;
}

/** True when the wasm Sum kernel is the pooling one. */
export function wasmPooledSumInstalled(): boolean {
  return tf.getKernel(tf.Sum, 'wasm')?.kernelFunc === (pooledSum as unknown as tf.KernelFunc);
}
