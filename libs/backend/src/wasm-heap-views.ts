import * as tf from '@tensorflow/tfjs-core';

/**
 * The internals of the tfjs wasm backend (4.22) that heap views rely on: the emscripten module with tfjs's
 * tensor registry (`registerTensor` / `disposeData` on the C++ side), `cwrap`, the JavaScript data map, the id
 * counter, `makeOutput`, and releasing one reference to a tensor's data.
 */
export interface WasmBackendInternals {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  dataIdNextNumber: number;
  readonly dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  readonly wasm: {
    readonly HEAPU8: Uint8Array;
    readonly tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
    cwrap(name: string, returnType: null, argTypes: string[]): (...args: unknown[]) => unknown;
  };
}

type RawBatchMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => unknown;

const rawBatchMatMuls = new WeakMap<object, RawBatchMatMul>();

/**
 * Registers "views" (a tensor id for a range of floats inside an existing wasm tensor, without a copy) with the
 * wasm backend's C++ tensor registry, and runs tfjs's XNNPACK matmul (`BatchMatMul` with batch 1 and no
 * transposes, i.e. XNNPACK's fully-connected operator with the right operand as the packed weights) directly on
 * such ids. This lets a kernel multiply sub-matrices at arbitrary element offsets, or write a product straight
 * into part of a bigger output.
 *
 * Promises: {@link release} unregisters every view it registered (the C++ side then also drops the XNNPACK
 * operator it cached for a view used as the right operand); views never own or free memory.
 * Preconditions: `backend` is the tfjs wasm backend (4.22); every view lies inside a float32 tensor that stays
 * alive until {@link release}. A right operand's contents must not change while its id is alive, since XNNPACK
 * caches the packed weights per id.
 * Does not: check bounds beyond the view's own tensor, or appear on the gradient tape.
 */
export class WasmHeapViews {
  private readonly ids: number[] = [];
  private readonly matMulFunction: RawBatchMatMul;

  constructor(private readonly backend: WasmBackendInternals) {
    const module = backend.wasm as object;
    let found = rawBatchMatMuls.get(module);
    if (found === undefined) {
      found = backend.wasm.cwrap('BatchMatMul', null, [
        'number',
        'array',
        'number',
        'number',
        'array',
        'number',
        'number',
        'number',
        'number',
      ]) as RawBatchMatMul;
      rawBatchMatMuls.set(module, found);
    }
    this.matMulFunction = found;
  }

  /** A tensor id for `size` floats of `info` starting at element `offset`. */
  view(info: tf.TensorInfo, offset: number, size: number): number {
    const memoryOffset = this.offsetOf(info, offset, size);
    const id = this.backend.dataIdNextNumber++;
    this.backend.wasm.tfjs.registerTensor(id, size, memoryOffset);
    this.ids.push(id);
    return id;
  }

  /** out[m, n] = a[m, k] · b[k, n] on view ids (row-major, contiguous); XNNPACK packs b once per id. */
  matMul(aId: number, m: number, k: number, bId: number, n: number, outId: number): void {
    this.matMulFunction(aId, shapeBytes(1, m, k), 3, bId, shapeBytes(1, k, n), 3, 0, 0, outId);
  }

  /**
   * Copies `count` floats from element `fromOffset` of `from` to element `toOffset` of `to` (one memmove in the
   * wasm heap). Both must be float32 tensors that contain the ranges.
   */
  copy(from: tf.TensorInfo, fromOffset: number, to: tf.TensorInfo, toOffset: number, count: number): void {
    const source = this.offsetOf(from, fromOffset, count);
    const target = this.offsetOf(to, toOffset, count);
    this.backend.wasm.HEAPU8.copyWithin(target, source, source + 4 * count);
  }

  private offsetOf(info: tf.TensorInfo, offset: number, size: number): number {
    const data = this.backend.dataIdMap.get(info.dataId);
    const total = info.shape.reduce((a, b) => a * b, 1);
    if (data === undefined || info.dtype !== 'float32' || offset < 0 || offset + size > total) {
      throw new Error(
        `WasmHeapViews: range [${offset}, ${offset + size}) does not lie inside the float32 tensor of shape [${info.shape.join(', ')}]; this is a bug in the calling kernel.`,
      );
    }
    return data.memoryOffset + 4 * offset;
  }

  /** Unregisters every view, newest first. */
  release(): void {
    for (const id of this.ids.splice(0).reverse()) this.backend.wasm.tfjs.disposeData(id);
  }
}

function shapeBytes(batch: number, rows: number, columns: number): Uint8Array {
  return new Uint8Array(new Int32Array([batch, rows, columns]).buffer);
}
