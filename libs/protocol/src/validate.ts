// Semantic checks shared by the coordinator and the worker. They know message kinds, steps and tensor
// names, never a model: shapes are passed in by the caller. Every failure is a ProtocolError whose code
// can be sent back to the peer (error.toBody()).
import { fromBfloat16 } from './bfloat16.ts';
import { crc32 } from './crc32.ts';
import { toWireBytes, type DTypeName, type TensorDataByDType } from './dtype.ts';
import type { DecodedMessage, DecodedTensor } from './frames.ts';
import { ProtocolError } from './protocol-error.ts';
import { ErrorCode, type BodyKind } from './schema.ts';

/** The tensor names the protocol uses (see the body comments in proto/ddpm/v1). */
export const TENSOR_NAMES = Object.freeze({
  parameters: 'parameters',
  gradient: 'gradient',
  delta: 'delta',
  samples: 'samples',
  labels: 'labels',
  /** --sync-every: a worker's inner Adam moments and count (StepStart after a resume; Gradient at checkpoint steps). */
  innerM: 'inner_m',
  innerV: 'inner_v',
  innerCount: 'inner_count',
} as const);

/**
 * The tensor `name` of `tensors`, checked to have `dtype` and `shape`, as its typed array.
 * A `null` entry in `shape` accepts any size for that dimension (e.g. [null, 28, 28, 1] for a batch).
 * Throws ProtocolError TENSOR_MISMATCH when it is missing or differs. Does not copy the data.
 */
export function expectTensor<D extends DTypeName>(
  tensors: readonly DecodedTensor[],
  name: string,
  shape: readonly (number | null)[],
  dtype: D,
): TensorDataByDType[D] {
  const tensor = tensors.find((candidate) => candidate.name === name);
  const wanted = `${dtype} [${shape.map((d) => (d === null ? '*' : String(d))).join(', ')}]`;
  if (tensor === undefined) {
    const present = tensors.map((t) => t.name).join(', ') || 'none';
    throw new ProtocolError(
      ErrorCode.TENSOR_MISMATCH,
      `expected a tensor '${name}' of ${wanted} but the message has ${present}; attach it as a tensor frame named '${name}'.`,
    );
  }
  const shapeMatches =
    tensor.shape.length === shape.length && shape.every((d, i) => d === null || d === tensor.shape[i]);
  if (tensor.dtype !== dtype || !shapeMatches) {
    throw new ProtocolError(
      ErrorCode.TENSOR_MISMATCH,
      `tensor '${name}' is ${tensor.dtype} [${tensor.shape.join(', ')}] but ${wanted} is expected; check that both sides built the model from the same Welcome.model.`,
    );
  }
  return tensor.data as TensorDataByDType[D];
}

/**
 * A float tensor sent as float32 or bfloat16 (a Gradient's dtype is the sender's choice, see Welcome.wire_dtype):
 * the float32 data itself, or the bfloat16 data widened into `widened` (exact). Same checks as expectTensor.
 */
export function expectFloats(
  tensors: readonly DecodedTensor[],
  name: string,
  length: number,
  widened: Float32Array,
): Float32Array {
  const tensor = findTensor(tensors, name);
  if (tensor?.dtype !== 'bfloat16') return expectTensor(tensors, name, [length], 'float32');
  return fromBfloat16(expectTensor(tensors, name, [length], 'bfloat16'), widened.subarray(0, length));
}

/** The tensor `name` if present (unchecked), for optional tensors such as "labels". */
export function findTensor(tensors: readonly DecodedTensor[], name: string): DecodedTensor | undefined {
  return tensors.find((tensor) => tensor.name === name);
}

/** Throws TENSOR_MISMATCH when `tensors` holds a name outside `allowed` (e.g. a stray frame). */
export function expectOnlyTensors(tensors: readonly DecodedTensor[], allowed: readonly string[]): void {
  const extra = tensors.filter((tensor) => !allowed.includes(tensor.name)).map((tensor) => tensor.name);
  if (extra.length > 0) {
    throw new ProtocolError(
      ErrorCode.TENSOR_MISMATCH,
      `unexpected tensor(s) ${extra.join(', ')}; this message may carry only ${allowed.join(', ') || 'no tensors'}.`,
    );
  }
}

/**
 * Narrows `message` to body kind `kind`. Throws UNEXPECTED_MESSAGE (naming `context`, e.g. "while waiting
 * for gradients of step 12") when it is another kind. An Error body is not special-cased: check for it first.
 */
export function expectBody<K extends BodyKind>(
  message: DecodedMessage,
  kind: K,
  context: string,
): Extract<DecodedMessage, { kind: K }> {
  if (message.kind !== kind) {
    throw new ProtocolError(
      ErrorCode.UNEXPECTED_MESSAGE,
      `received ${message.kind} ${context}, where only ${kind} is allowed; follow the message sequence in docs/protocol.md.`,
    );
  }
  return message as Extract<DecodedMessage, { kind: K }>;
}

/**
 * Checks that a message refers to the step in progress. Throws WRONG_STEP saying whether it is late
 * (received < expected: a straggler's answer to a closed step, which the caller usually drops) or ahead.
 */
export function expectStep(received: number, expected: number, what: string): void {
  if (received === expected) return;
  const relation = received < expected ? `late: step ${expected} is already in progress` : `ahead of step ${expected}`;
  throw new ProtocolError(
    ErrorCode.WRONG_STEP,
    `${what} is for step ${received}, ${relation}; answer only the StepStart most recently received.`,
  );
}

/** Throws STALE_STATE when a message belongs to another run (Envelope.run_id). */
export function expectRun(received: string, expected: string): void {
  if (received !== expected) {
    throw new ProtocolError(
      ErrorCode.STALE_STATE,
      `the message is for run '${received}' but this run is '${expected}'; send a Hello (with resume) to rejoin the current run.`,
    );
  }
}

/**
 * The parameter checksum of the protocol: CRC-32 (zlib, initial value 0) of the little-endian float32 bytes
 * of the flattened parameters. Equal checksums mean bit-identical replicas (up to CRC collisions).
 */
export function parameterChecksum(parameters: Float32Array): number {
  return crc32(toWireBytes(parameters));
}

/** Throws STALE_STATE when two parameter checksums differ (the worker's replica diverged). */
export function expectChecksum(actual: number, expected: number, what: string): void {
  if (actual >>> 0 !== expected >>> 0) {
    throw new ProtocolError(
      ErrorCode.STALE_STATE,
      `${what}: parameter checksum 0x${(actual >>> 0).toString(16)} differs from the expected 0x${(expected >>> 0).toString(16)}; the replica is out of sync and must reload the full parameters.`,
    );
  }
}

/** Number of NaN and +-Infinity elements (0 means all finite). */
export function countNonFinite(values: Float32Array): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) count++;
  }
  return count;
}

/** Throws NON_FINITE when `value` is NaN or Infinity. */
export function expectFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) {
    throw new ProtocolError(
      ErrorCode.NON_FINITE,
      `${what} is ${value}; report all_finite = false instead of sending non-finite values.`,
    );
  }
}

/** The next Envelope.sequence after `previous`: 1, 2, ..., 4294967295, 1, ... (0 is never used). */
export function nextSequence(previous: number): number {
  return previous >= 0xffffffff ? 1 : previous + 1;
}
