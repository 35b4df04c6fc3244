import { endianness } from 'node:os';
import { DType } from './schema.ts';

/** The dtypes a worker may send gradients in (Welcome.wire_dtype; `--wire-dtype`). */
export const WIRE_DTYPES = ['float32', 'bfloat16'] as const;
export type WireDtype = (typeof WIRE_DTYPES)[number];

/** The typed arrays that can travel as tensor frames. */
export type TensorData = Float32Array | Int32Array | Uint8Array | Uint16Array;

/** Lower-case dtype names used by the TypeScript API (the wire uses the DType enum). */
export type DTypeName = 'float32' | 'int32' | 'uint8' | 'bfloat16';

/** The typed array type for each dtype name. */
export interface TensorDataByDType {
  float32: Float32Array;
  int32: Int32Array;
  uint8: Uint8Array;
  /** Raw bfloat16 bit patterns (see bfloat16.ts to convert). */
  bfloat16: Uint16Array;
}

interface DTypeInfo {
  readonly name: DTypeName;
  readonly wire: DType;
  readonly bytesPerElement: 1 | 2 | 4;
  readonly create: (buffer: ArrayBufferLike, byteOffset: number, length: number) => TensorData;
}

const INFOS: readonly DTypeInfo[] = [
  { name: 'float32', wire: DType.FLOAT32, bytesPerElement: 4, create: (b, o, n) => new Float32Array(b, o, n) },
  { name: 'int32', wire: DType.INT32, bytesPerElement: 4, create: (b, o, n) => new Int32Array(b, o, n) },
  { name: 'uint8', wire: DType.UINT8, bytesPerElement: 1, create: (b, o, n) => new Uint8Array(b, o, n) },
  { name: 'bfloat16', wire: DType.BFLOAT16, bytesPerElement: 2, create: (b, o, n) => new Uint16Array(b, o, n) },
];

/** True on little-endian hosts, where typed arrays already hold wire byte order. */
export const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** The dtype descriptor of a wire enum value, or undefined for DTYPE_UNSPECIFIED and unknown values. */
export function dtypeFromWire(wire: number): DTypeInfo | undefined {
  return INFOS.find((info) => info.wire === wire);
}

/** The dtype descriptor of a name. */
export function dtypeFromName(name: DTypeName): DTypeInfo {
  const info = INFOS.find((candidate) => candidate.name === name);
  if (info === undefined)
    throw new RangeError(`unknown dtype '${String(name)}'; use one of ${INFOS.map((i) => i.name).join(', ')}.`);
  return info;
}

/** The dtype of a typed array (a Uint16Array holds bfloat16), or undefined when it is not a supported kind. */
export function dtypeOfData(data: unknown): DTypeInfo | undefined {
  if (data instanceof Float32Array) return INFOS[0];
  if (data instanceof Int32Array) return INFOS[1];
  if (data instanceof Uint8Array) return INFOS[2];
  if (data instanceof Uint16Array) return INFOS[3];
  return undefined;
}

/**
 * The little-endian bytes of `data` as a Buffer. On little-endian hosts this is a zero-copy view of the
 * same memory (so the caller must not modify `data` until the send completed); on big-endian hosts it is a
 * byte-swapped copy.
 */
export function toWireBytes(data: TensorData): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  return data.BYTES_PER_ELEMENT === 2 ? Buffer.from(view).swap16() : Buffer.from(view).swap32();
}

/**
 * A typed array over the little-endian bytes `bytes`. Zero-copy when the host is little-endian and the
 * bytes are aligned for the element size; otherwise a copy (aligned, byte-swapped if needed) of exactly
 * bytes.byteLength bytes. Precondition: bytes.byteLength is a multiple of the element size.
 */
export function fromWireBytes(info: DTypeInfo, bytes: Uint8Array): TensorData {
  const length = bytes.byteLength / info.bytesPerElement;
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % info.bytesPerElement === 0) {
    return info.create(bytes.buffer, bytes.byteOffset, length);
  }
  const copy = Buffer.alloc(bytes.byteLength);
  copy.set(bytes);
  if (!HOST_IS_LITTLE_ENDIAN && info.bytesPerElement === 4) copy.swap32();
  if (!HOST_IS_LITTLE_ENDIAN && info.bytesPerElement === 2) copy.swap16();
  return info.create(copy.buffer, copy.byteOffset, length);
}
