import * as tf from '@tensorflow/tfjs-core';
import { WasmHeapViews, type WasmBackendInternals } from './wasm-heap-views.ts';

/** The part of the wasm backend the conv-gradient kernels rely on: releasing one reference to a tensor's data. */
export interface DisposingBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/**
 * Calls kernels that the wasm backend already registers (Conv2D, Transpose, PadV2, Reshape, Slice, BatchMatMul,
 * Concat) directly through their `kernelFunc`, bypassing the engine, and remembers every result so that
 * {@link WasmKernelCalls.disposeIntermediates} can release all of them at once.
 *
 * Promises: every TensorInfo returned by a call is tracked until {@link keep} takes it out, so a kernel built on
 * this helper leaks nothing when it disposes intermediates in a `finally`.
 * Preconditions: `backend` is the wasm backend instance that the engine handed to the calling kernel.
 * Does not: record anything on the gradient tape, check shapes (the called kernels do), or support other backends.
 */
export class WasmKernelCalls {
  private readonly intermediates: tf.TensorInfo[] = [];
  private heapViews: WasmHeapViews | undefined;

  constructor(private readonly backend: DisposingBackend) {}

  /** Zero-copy views and raw XNNPACK matmuls on them (see {@link WasmHeapViews}), released by disposeIntermediates. */
  get views(): WasmHeapViews {
    this.heapViews ??= new WasmHeapViews(this.backend as unknown as WasmBackendInternals);
    return this.heapViews;
  }

  /** A new float32 tensor with uninitialised contents (the caller must write every element), tracked like a result. */
  allocate(shape: number[]): tf.TensorInfo {
    const info = (this.backend as unknown as WasmBackendInternals).makeOutput(shape, 'float32');
    this.intermediates.push(info);
    return info;
  }

  /** Runs wasm kernel `kernelName` with the given inputs and attributes and tracks its single output. */
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const config = tf.getKernel(kernelName, 'wasm');
    if (config === undefined) {
      throw new Error(
        `The wasm backend has no '${kernelName}' kernel, which the conv-gradient kernels are built from. ` +
          `Use @tensorflow/tfjs-backend-wasm 4.22 (the version this workspace pins).`,
      );
    }
    const result = config.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(result)) {
      result.forEach((info) => this.intermediates.push(info));
      throw new Error(`wasm kernel '${kernelName}' returned ${result.length} outputs where one was expected.`);
    }
    this.intermediates.push(result);
    return result;
  }

  /** Removes `info` from the tracked intermediates, so the caller can return it as a kernel output. */
  keep(info: tf.TensorInfo): tf.TensorInfo {
    const index = this.intermediates.indexOf(info);
    if (index >= 0) this.intermediates.splice(index, 1);
    return info;
  }

  /**
   * Releases every view, then one data reference for every tracked intermediate (a reshape shares data and holds
   * its own reference).
   */
  disposeIntermediates(): void {
    this.heapViews?.release();
    for (const info of this.intermediates.splice(0)) this.backend.disposeData(info.dataId);
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /**
   * A float32 [kh, kw, ...] filter flipped along both spatial axes, i.e. its kh*kw tap blocks in reverse order:
   * kh*kw heap copies (wasm's Reverse loops element by element, ~2 ms for a 3x3x64x64 filter).
   */
  flipSpatially(filter: tf.TensorInfo): tf.TensorInfo {
    const [kh, kw] = filter.shape;
    const taps = kh * kw;
    const block = filter.shape.slice(2).reduce((a, b) => a * b, 1);
    const flipped = this.allocate([...filter.shape]);
    for (let t = 0; t < taps; t++) this.views.copy(filter, t * block, flipped, (taps - 1 - t) * block, block);
    return flipped;
  }

  /** Zero padding; `paddings[i]` is [before, after] for axis i. */
  pad(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    return this.run(tf.PadV2, { x }, { paddings, constantValue: 0 });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run(tf.Slice, { x }, { begin, size });
  }

  concat(xs: tf.TensorInfo[], axis: number): tf.TensorInfo {
    return this.run(tf.Concat, xs as unknown as tf.NamedTensorInfoMap, { axis });
  }

  /** Plain [m,k]x[k,n] product; wasm routes exactly this case (no transposes, batch 1) to XNNPACK. */
  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    return this.run(tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
  }

  /** Stride-1 NHWC convolution with explicit, non-negative padding and the given filter dilation (XNNPACK). */
  conv2d(
    x: tf.TensorInfo,
    filter: tf.TensorInfo,
    padding: SpatialPadding,
    dilations: [number, number] = [1, 1],
  ): tf.TensorInfo {
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [padding.top, padding.bottom],
      [padding.left, padding.right],
      [0, 0],
    ];
    return this.run(tf.Conv2D, { x, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations });
  }

  /**
   * Pads (positive amounts) and crops (negative amounts) the two spatial axes of an NHWC tensor, returning the
   * padding that is still to be applied and the possibly cropped tensor. Cropping uses Slice; padding is left to
   * the convolution, which pads for free.
   */
  cropNegativePadding(x: tf.TensorInfo, padding: SpatialPadding): { x: tf.TensorInfo; padding: SpatialPadding } {
    const { top, bottom, left, right } = padding;
    if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return { x, padding };
    const [n, h, w, c] = x.shape;
    const cropTop = Math.max(0, -top);
    const cropLeft = Math.max(0, -left);
    const height = h - cropTop - Math.max(0, -bottom);
    const width = w - cropLeft - Math.max(0, -right);
    if (height <= 0 || width <= 0) {
      throw new Error(
        `Conv gradient geometry crops a ${h}x${w} tensor to nothing (padding ${JSON.stringify(padding)}); this is a bug in the conv-gradient kernels, please report the conv attributes.`,
      );
    }
    const cropped = this.slice(x, [0, cropTop, cropLeft, 0], [n, height, width, c]);
    return {
      x: cropped,
      padding: {
        top: Math.max(0, top),
        bottom: Math.max(0, bottom),
        left: Math.max(0, left),
        right: Math.max(0, right),
      },
    };
  }
}

/** Padding of the two spatial axes; negative values mean cropping. */
export interface SpatialPadding {
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
  readonly right: number;
}
