import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace-wasm-kernel.ts';

/** The internals of the tfjs wasm backend (4.22) the heap Slice uses. */
interface SliceBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  readonly dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  readonly wasm: { readonly HEAPU8: Uint8Array };
}

let stockSlice: tf.KernelConfig | undefined;
let stockConcat: tf.KernelConfig | undefined;

/**
 * Slice for the wasm backend that copies only the selected elements, inside the wasm heap: one copyWithin per run
 * of consecutive elements (the innermost partially sliced axis and every full axis after it), so a slice along
 * the leading axis is a single memcpy. The stock kernel first copies the WHOLE input out of the heap (readSync)
 * and, above rank 4, gathers element by element in JavaScript.
 *
 * Promises: the same values as tfjs's Slice for every rank and for float32, int32 and bool; strings go to the
 * stock kernel. Preconditions: called by the engine as the wasm kernel.
 * Does not: share memory with the input (tfjs has no views), or validate beyond tfjs's slice_util.
 */
export function wasmHeapSlice(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x } = args.inputs;
  if (x === undefined) throw new Error('Slice (wasm, @ddpm/backend) needs input x.');
  if (x.dtype === 'string') {
    if (stockSlice === undefined)
      throw new Error(
        'Slice (wasm, @ddpm/backend) cannot slice strings because the stock wasm Slice was not found at install time; reinstall @tensorflow/tfjs-backend-wasm 4.22.',
      );
    return stockSlice.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as SliceBackend;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as tf.Tensor,
    args.attrs?.['begin'] as number | number[],
    args.attrs?.['size'] as number | number[] | undefined,
  );
  const out = backend.makeOutput(size, x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const bytes = x.dtype === 'bool' ? 1 : 4;
  // Read the heap after makeOutput: its malloc may have grown (and replaced) the heap buffer.
  const heap = backend.wasm.HEAPU8;
  const source = memoryOffset(backend, x);
  let target = memoryOffset(backend, out);
  const shape = x.shape;
  const rank = shape.length;
  const strides = tf.util.computeStrides(shape);
  const stride = (axis: number): number => (axis === rank - 1 ? 1 : strides[axis]);
  // Axes k+1.. are taken whole, so a run spans axes k.. and starts at begin[k].
  let k = rank - 1;
  let run = size[rank - 1];
  while (k > 0 && size[k] === shape[k]) {
    k--;
    run *= size[k];
  }
  const index = new Array<number>(k).fill(0);
  const runs = total / run;
  for (let r = 0; r < runs; r++) {
    let offset = begin[k] * stride(k);
    for (let axis = 0; axis < k; axis++) offset += (begin[axis] + index[axis]) * stride(axis);
    const from = source + offset * bytes;
    heap.copyWithin(target, from, from + run * bytes);
    target += run * bytes;
    for (let axis = k - 1; axis >= 0; axis--) {
      if (++index[axis] < size[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

/**
 * SplitV for the wasm backend: one {@link wasmHeapSlice} per part (the stock SplitV calls the stock Slice
 * directly). Same results as tfjs's SplitV.
 */
export function wasmHeapSplitV(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo[] {
  const { x } = args.inputs;
  if (x === undefined) throw new Error('SplitV (wasm, @ddpm/backend) needs input x.');
  const axis = tf.util.parseAxisParam(args.attrs?.['axis'] as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(
    x as tf.Tensor,
    args.attrs?.['numOrSizeSplits'] as number | number[],
    axis,
  );
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((part) => {
    const size = [...x.shape];
    size[axis] = part;
    const out = wasmHeapSlice({ inputs: { x }, backend: args.backend, attrs: { begin: [...begin], size } });
    begin[axis] += part;
    return out;
  });
}

/**
 * Concat for the wasm backend: per row of the axes before `axis`, one heap copyWithin per input (the stock kernel
 * makes a subarray object per row and input, which dominates for channel concatenations of NHWC maps).
 * Same results as tfjs's Concat for float32, int32 and bool; strings go to the stock kernel.
 */
export function wasmHeapConcat(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const inputs = Object.values(args.inputs).filter((input): input is tf.TensorInfo => input !== undefined);
  if (inputs.length === 0) throw new Error('Concat (wasm, @ddpm/backend) needs at least one input.');
  const nonEmpty = inputs.filter((input) => input.shape.reduce((a, b) => a * b, 1) > 0);
  if (inputs[0].dtype === 'string' || nonEmpty.length <= 1) {
    if (stockConcat === undefined)
      throw new Error(
        'Concat (wasm, @ddpm/backend): the stock wasm Concat was not found at install time; reinstall @tensorflow/tfjs-backend-wasm 4.22.',
      );
    return stockConcat.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const axis = tf.util.parseAxisParam(args.attrs?.['axis'] as number, inputs[0].shape)[0];
  const shapes = inputs.map((input) => input.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const backend = args.backend as SliceBackend;
  const out = backend.makeOutput(tf.backend_util.computeOutShape(shapes, axis), inputs[0].dtype);
  const bytes = inputs[0].dtype === 'bool' ? 1 : 4;
  const heap = backend.wasm.HEAPU8;
  const rows = inputs[0].shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const widths = nonEmpty.map((input) => input.shape.slice(axis).reduce((a, b) => a * b, 1) * bytes);
  const sources = nonEmpty.map((input) => memoryOffset(backend, input));
  let target = memoryOffset(backend, out);
  for (let row = 0; row < rows; row++) {
    for (let i = 0; i < sources.length; i++) {
      const from = sources[i] + row * widths[i];
      heap.copyWithin(target, from, from + widths[i]);
      target += widths[i];
    }
  }
  return out;
}

function memoryOffset(backend: SliceBackend, info: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined)
    throw new Error('Slice (wasm, @ddpm/backend): a tensor has no wasm data; was it disposed before the slice ran?');
  return data.memoryOffset;
}

/**
 * Registers {@link wasmHeapSlice}, {@link wasmHeapSplitV} and {@link wasmHeapConcat} as the wasm backend's
 * Slice, SplitV and Concat (keeping the stock Slice and Concat for strings).
 * Idempotent (returns false when already installed); works before or after `tf.setBackend('wasm')`.
 * @returns true if this call installed the kernel.
 */
export function installWasmHeapSlice(): boolean {
  if (wasmHeapSliceInstalled()) return false;
  stockSlice = replaceWasmKernel(tf.Slice, wasmHeapSlice) ?? stockSlice;
  stockConcat = replaceWasmKernel(tf.Concat, wasmHeapConcat) ?? stockConcat;
  replaceWasmKernel(tf.SplitV, wasmHeapSplitV as unknown as tf.KernelFunc);
  return true;
}

/** True when the wasm Slice, SplitV and Concat kernels are the heap-copy ones. */
export function wasmHeapSliceInstalled(): boolean {
  return (
    tf.getKernel(tf.Slice, 'wasm')?.kernelFunc === wasmHeapSlice &&
    tf.getKernel(tf.SplitV, 'wasm')?.kernelFunc === (wasmHeapSplitV as unknown as tf.KernelFunc) &&
    tf.getKernel(tf.Concat, 'wasm')?.kernelFunc === wasmHeapConcat
  );
}
