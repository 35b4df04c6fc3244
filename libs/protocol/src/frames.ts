import { crc32 } from './crc32.ts';
import { dtypeFromWire, dtypeOfData, fromWireBytes, toWireBytes, type DTypeName, type TensorData } from './dtype.ts';
import { scanEnvelope } from './envelope-scan.ts';
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits.ts';
import { ProtocolError } from './protocol-error.ts';
import {
  Envelope,
  ErrorCode,
  PROTOCOL_VERSION,
  isBodyKind,
  type BodyKind,
  type BodyTypes,
  type OutgoingEnvelope,
  type TensorHeaderFields,
} from './schema.ts';

/** A tensor to send: a typed array and its shape (row-major; product(shape) must equal data.length). */
export interface TensorInput {
  readonly name: string;
  readonly data: TensorData;
  readonly shape: readonly number[];
  /**
   * The CRC-32 of the data's wire bytes when the caller already knows it (a parameter checksum it computed for
   * these exact bytes); saves one pass over the data. The receiver verifies it like any other CRC, so a wrong
   * value makes the message fail with CRC_MISMATCH rather than pass unchecked.
   */
  readonly crc32?: number;
}

/** A tensor received: validated against its header (size, dtype, CRC-32). */
export interface DecodedTensor {
  readonly name: string;
  readonly dtype: DTypeName;
  readonly shape: readonly number[];
  /** A view of the received frame where alignment allows, otherwise an aligned copy. */
  readonly data: TensorData;
  /** The frame's CRC-32, verified against its header: for a float32 parameter tensor, its parameter checksum. */
  readonly crc32: number;
}

/** A decoded message, discriminated by `kind`; `body` is the envelope's body of that kind. */
export type DecodedMessage = {
  [K in BodyKind]: {
    readonly kind: K;
    readonly envelope: Envelope;
    readonly body: BodyTypes[K];
    readonly tensors: readonly DecodedTensor[];
  };
}[BodyKind];

/**
 * Encodes one protocol message as ZeroMQ frames: [envelope, ...tensor frames].
 *
 * Promises: the envelope gets protocol_version (PROTOCOL_VERSION unless set) and one TensorHeader per
 * tensor, in order, with the exact byte length and CRC-32 of its frame; tensor frames are zero-copy views of
 * the typed arrays on little-endian hosts, so the caller must not modify them until the send completed.
 * Throws ProtocolError (BAD_MESSAGE, TENSOR_SIZE_MISMATCH, TOO_LARGE) when the message would be rejected
 * by a receiver using `limits`, so a sender finds its own mistakes first.
 * Does not: send anything, add the ROUTER identity frame, or check that the body makes sense (validate.ts).
 */
export function encodeMessage(
  envelope: OutgoingEnvelope,
  tensors: readonly TensorInput[] = [],
  limits: ProtocolLimits = DEFAULT_LIMITS,
): Buffer[] {
  const bodies = Object.keys(envelope).filter((key) => isBodyKind(key) && envelope[key as BodyKind] != null);
  if (bodies.length !== 1) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `an envelope needs exactly one body, got ${bodies.length} (${bodies.join(', ') || 'none'}); set exactly one of hello, welcome, stepStart, gradient, update, heartbeat, error, leave, shutdown.`,
    );
  }
  if (tensors.length > limits.maxTensors) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `${tensors.length} tensors exceed the limit of ${limits.maxTensors}; send fewer, larger (flattened) tensors.`,
    );
  }
  const names = new Set<string>();
  const headers: TensorHeaderFields[] = [];
  const frames: Buffer[] = [];
  for (const tensor of tensors) {
    const dtype = dtypeOfData(tensor.data);
    if (dtype === undefined)
      throw new ProtocolError(
        ErrorCode.BAD_MESSAGE,
        `tensor '${tensor.name}' is not a Float32Array, Int32Array or Uint8Array; convert it before encoding.`,
      );
    checkName(tensor.name, names, limits);
    if (
      tensor.shape.length > limits.maxRank ||
      !tensor.shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff)
    ) {
      throw new ProtocolError(
        ErrorCode.BAD_MESSAGE,
        `tensor '${tensor.name}' has shape [${tensor.shape.join(', ')}]; a shape has at most ${limits.maxRank} non-negative 32-bit integer dimensions.`,
      );
    }
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    if (elements !== tensor.data.length) {
      throw new ProtocolError(
        ErrorCode.TENSOR_SIZE_MISMATCH,
        `tensor '${tensor.name}' has shape [${tensor.shape.join(', ')}] (${elements} elements) but ${tensor.data.length} values; pass the shape of the data.`,
      );
    }
    const bytes = toWireBytes(tensor.data);
    headers.push({
      name: tensor.name,
      shape: [...tensor.shape],
      dtype: dtype.wire,
      byteLength: bytes.byteLength,
      crc32: tensor.crc32 ?? crc32(bytes),
    });
    frames.push(bytes);
  }
  const { protocolVersion, ...rest } = envelope;
  const envelopeBytes = Envelope.encode({
    ...rest,
    protocolVersion: protocolVersion ?? PROTOCOL_VERSION,
    tensors: headers,
  }).finish();
  const head = Buffer.from(envelopeBytes.buffer, envelopeBytes.byteOffset, envelopeBytes.byteLength);
  if (head.byteLength > limits.maxEnvelopeBytes) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `the envelope is ${head.byteLength} bytes, above the ${limits.maxEnvelopeBytes}-byte limit; move bulk data (indices, samples) into tensor frames.`,
    );
  }
  const total = frames.reduce((sum, frame) => sum + frame.byteLength, head.byteLength);
  if (total > limits.maxMessageBytes) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `the message is ${total} bytes, above the receiver's limit of ${limits.maxMessageBytes}; raise max_message_bytes on both sides or send a smaller model.`,
    );
  }
  return [head, ...frames];
}

/**
 * Decodes and validates the frames of one message (without the ROUTER identity frame).
 *
 * Promises: either returns a message whose version is PROTOCOL_VERSION, whose body is a known kind and whose
 * tensors match their headers exactly (frame count, byte length = product(shape) x dtype size, CRC-32), or
 * throws a ProtocolError whose code says which check failed and whose message tells the sender what to fix.
 * It throws nothing else, whatever the bytes, and allocates nothing sized by a value a peer claims: sizes are
 * checked against the real frames and `limits` first.
 * Does not: check the body's meaning (steps, worker ids, expected tensors: see validate.ts), or copy tensor
 * data that is already aligned (the returned arrays view the frames).
 */
export function decodeMessage(frames: readonly Uint8Array[], limits: ProtocolLimits = DEFAULT_LIMITS): DecodedMessage {
  if (!Array.isArray(frames) || frames.length === 0) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      'received a message with no frames; send [envelope, ...tensor frames].',
    );
  }
  if (!frames.every((frame) => frame instanceof Uint8Array)) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      'a frame is not a byte buffer; pass the Buffers received from the socket.',
    );
  }
  if (frames.length - 1 > limits.maxTensors) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `the message has ${frames.length - 1} tensor frames, above the limit of ${limits.maxTensors}; send fewer, larger (flattened) tensors.`,
    );
  }
  const total = frames.reduce((sum, frame) => sum + frame.byteLength, 0);
  if (total > limits.maxMessageBytes) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `the message is ${total} bytes, above this receiver's limit of ${limits.maxMessageBytes}; respect max_message_bytes from Hello/Welcome.`,
    );
  }
  const head = frames[0];
  if (head.byteLength > limits.maxEnvelopeBytes) {
    throw new ProtocolError(
      ErrorCode.TOO_LARGE,
      `the envelope frame is ${head.byteLength} bytes, above the limit of ${limits.maxEnvelopeBytes}; move bulk data into tensor frames.`,
    );
  }
  scanEnvelope(head, limits);
  let envelope: Envelope;
  try {
    envelope = Envelope.decode(head);
  } catch (error) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `the first frame is not a valid ddpm.v1.Envelope (${describe(error)}); encode it with the schema in proto/ddpm/v1 and send it as frame 0.`,
      { cause: error },
    );
  }
  if (envelope.protocolVersion !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      ErrorCode.VERSION_MISMATCH,
      `the message uses protocol version ${envelope.protocolVersion} but this side speaks version ${PROTOCOL_VERSION}; run coordinator and workers from releases with the same PROTOCOL_VERSION.`,
    );
  }
  const kind = envelope.body;
  if (!isBodyKind(kind)) {
    throw new ProtocolError(
      ErrorCode.UNKNOWN_BODY,
      `the envelope carries ${kind === undefined ? 'no body (or one added by a newer schema)' : `an unknown body '${String(kind)}'`}; set exactly one body this version knows.`,
    );
  }
  const headers = envelope.tensors;
  if (headers.length !== frames.length - 1) {
    throw new ProtocolError(
      ErrorCode.FRAME_COUNT_MISMATCH,
      `the envelope describes ${headers.length} tensor frames but ${frames.length - 1} followed it; send exactly one frame per TensorHeader, in order.`,
    );
  }
  const names = new Set<string>();
  const tensors = headers.map((header, index) => decodeTensor(header, frames[index + 1], index + 1, names, limits));
  const body = envelope[kind];
  if (body == null) {
    throw new ProtocolError(ErrorCode.UNKNOWN_BODY, `the envelope's body '${kind}' is empty; set the body message.`);
  }
  // The generated decoder builds body class instances (defaults on the prototype), which BodyTypes names.
  return { kind, envelope, body, tensors } as unknown as DecodedMessage;
}

function decodeTensor(
  header: TensorHeaderFields,
  frame: Uint8Array,
  position: number,
  names: Set<string>,
  limits: ProtocolLimits,
): DecodedTensor {
  const name = header.name ?? '';
  checkName(name, names, limits);
  const dtype = dtypeFromWire(header.dtype ?? 0);
  if (dtype === undefined) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `tensor '${name}' has dtype ${String(header.dtype)}; use FLOAT32, INT32, UINT8 or BFLOAT16.`,
    );
  }
  const shape = header.shape ?? [];
  if (shape.length > limits.maxRank) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `tensor '${name}' has ${shape.length} dimensions, above the limit of ${limits.maxRank}; flatten it.`,
    );
  }
  // Multiply with an early exit so a hostile shape cannot overflow into a matching small number. A zero dimension makes
  // the tensor empty however large the others are ([65536, 65536, 0] is 0 bytes).
  let expectedBytes = shape.includes(0) ? 0 : dtype.bytesPerElement;
  for (const dim of expectedBytes === 0 ? [] : shape) {
    expectedBytes *= dim;
    if (expectedBytes > limits.maxMessageBytes) break;
  }
  const claimed = header.byteLength ?? 0;
  if (expectedBytes !== claimed) {
    throw new ProtocolError(
      ErrorCode.TENSOR_SIZE_MISMATCH,
      `tensor '${name}' has shape [${shape.join(', ')}] of ${dtype.name} (${expectedBytes} bytes) but its header claims ${claimed} bytes; set byte_length = product(shape) x element size.`,
    );
  }
  if (frame.byteLength !== claimed) {
    throw new ProtocolError(
      ErrorCode.TENSOR_SIZE_MISMATCH,
      `frame ${position} ('${name}') is ${frame.byteLength} bytes but its header says ${claimed}; send the whole tensor, unpadded, as one frame.`,
    );
  }
  const actualCrc = crc32(frame);
  if (actualCrc !== header.crc32) {
    throw new ProtocolError(
      ErrorCode.CRC_MISMATCH,
      `frame ${position} ('${name}') has CRC-32 ${hex(actualCrc)} but its header says ${hex(header.crc32 ?? 0)}; the bytes changed in transit or were modified after encoding. Resend, and do not mutate buffers until the send completed.`,
    );
  }
  return { name, dtype: dtype.name, shape: [...shape], data: fromWireBytes(dtype, frame), crc32: actualCrc };
}

function checkName(name: string, seen: Set<string>, limits: ProtocolLimits): void {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name, 'utf8') > limits.maxNameLength) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `tensor name '${String(name).slice(0, 40)}' must be 1 to ${limits.maxNameLength} bytes of UTF-8; use names like 'parameters' or 'gradient'.`,
    );
  }
  if (seen.has(name)) {
    throw new ProtocolError(
      ErrorCode.BAD_MESSAGE,
      `tensor name '${name}' appears twice; give every tensor of a message a distinct name.`,
    );
  }
  seen.add(name);
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
