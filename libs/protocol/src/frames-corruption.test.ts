import test from 'ava';
import { decodeMessage, encodeMessage } from './frames.ts';
import { protocolLimits, type ProtocolLimits } from './limits.ts';
import { ProtocolError } from './protocol-error.ts';
import { DType, Envelope, ErrorCode, type TensorHeaderFields } from './schema.ts';

/** A valid Gradient message with two tensors: [envelope, gradient frame, labels frame]. */
function validFrames(): Buffer[] {
  return encodeMessage({ sequence: 9, gradient: { step: 4, samples: 2, loss: 0.5, allFinite: true } }, [
    { name: 'gradient', data: Float32Array.from([0.5, -1, 2, 3]), shape: [4] },
    { name: 'labels', data: Int32Array.from([3, 1]), shape: [2] },
  ]);
}

/** Frames whose envelope is encoded by hand, so headers can lie. */
function framesWithHeaders(headers: TensorHeaderFields[], payloads: Uint8Array[], protocolVersion = 1): Uint8Array[] {
  const head = Envelope.encode({ protocolVersion, heartbeat: {}, tensors: headers }).finish();
  return [head, ...payloads];
}

const rejects = test.macro({
  exec(t, make: () => readonly Uint8Array[], code: ErrorCode, limits?: ProtocolLimits) {
    const error = t.throws(() => decodeMessage(make(), limits), { instanceOf: ProtocolError });
    t.is(error?.codeName, ErrorCode[code]);
    t.true((error?.message.length ?? 0) > 40, 'the message explains what to fix');
  },
  title: (title = '', _make, code: ErrorCode) => `${title} -> ${ErrorCode[code]}`,
});

test(
  'truncated envelope',
  rejects,
  () => {
    const [head, ...rest] = validFrames();
    return [head.subarray(0, head.byteLength - 3), ...rest];
  },
  ErrorCode.BAD_MESSAGE,
);
test(
  'garbage envelope bytes',
  rejects,
  () => [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  ErrorCode.BAD_MESSAGE,
);
test('deeply nested groups in the envelope', rejects, () => [Buffer.alloc(200_000, 0x0b)], ErrorCode.BAD_MESSAGE);
test('no frames at all', rejects, () => [], ErrorCode.BAD_MESSAGE);
test('a frame that is not bytes', rejects, () => ['hello' as unknown as Uint8Array], ErrorCode.BAD_MESSAGE);
test('empty envelope frame (version 0)', rejects, () => [Buffer.alloc(0)], ErrorCode.VERSION_MISMATCH);
test('wrong protocol version', rejects, () => framesWithHeaders([], [], 2), ErrorCode.VERSION_MISMATCH);
test(
  'wrong protocol version set through encodeMessage',
  rejects,
  () => encodeMessage({ protocolVersion: 7, leave: {} }),
  ErrorCode.VERSION_MISMATCH,
);
test(
  'envelope without a body',
  rejects,
  () => [Envelope.encode({ protocolVersion: 1 }).finish()],
  ErrorCode.UNKNOWN_BODY,
);
test(
  'envelope whose body is a field from a newer schema',
  rejects,
  () => {
    const head = Envelope.encode({ protocolVersion: 1 }).finish();
    return [Buffer.concat([head, Buffer.from([0xf2, 0x01, 0x00])])]; // field 30, length-delimited, empty
  },
  ErrorCode.UNKNOWN_BODY,
);
test(
  'a CRC mismatch (one flipped bit in a tensor frame)',
  rejects,
  () => {
    const frames = validFrames();
    const corrupted = Buffer.from(frames[1]);
    corrupted[5] ^= 0x10;
    return [frames[0], corrupted, frames[2]];
  },
  ErrorCode.CRC_MISMATCH,
);
test(
  'a frame shorter than its header says',
  rejects,
  () => {
    const frames = validFrames();
    return [frames[0], frames[1].subarray(0, 12), frames[2]];
  },
  ErrorCode.TENSOR_SIZE_MISMATCH,
);
test(
  'a header whose byte_length disagrees with shape x dtype',
  rejects,
  () =>
    framesWithHeaders([{ name: 'x', shape: [3], dtype: DType.FLOAT32, byteLength: 16, crc32: 0 }], [Buffer.alloc(16)]),
  ErrorCode.TENSOR_SIZE_MISMATCH,
);
test(
  'a huge claimed shape (no allocation from a claimed size)',
  rejects,
  () =>
    framesWithHeaders(
      [{ name: 'x', shape: [65536, 65536, 65536, 65536], dtype: DType.FLOAT32, byteLength: 0xffffffff, crc32: 0 }],
      [Buffer.alloc(4)],
    ),
  ErrorCode.TENSOR_SIZE_MISMATCH,
);
test('an extra frame', rejects, () => [...validFrames(), Buffer.alloc(4)], ErrorCode.FRAME_COUNT_MISMATCH);
test('a missing frame', rejects, () => validFrames().slice(0, 2), ErrorCode.FRAME_COUNT_MISMATCH);
test(
  'a message above maxMessageBytes',
  rejects,
  validFrames,
  ErrorCode.TOO_LARGE,
  protocolLimits({ maxMessageBytes: 64 }),
);
test(
  'an envelope above maxEnvelopeBytes',
  rejects,
  validFrames,
  ErrorCode.TOO_LARGE,
  protocolLimits({ maxEnvelopeBytes: 8 }),
);
test(
  'an envelope listing more headers than maxTensors (amplification guard)',
  rejects,
  () => {
    const head = Buffer.alloc(200_000);
    for (let i = 0; i < head.length; i += 2) head[i] = 0x2a; // field 5, length 0: an empty TensorHeader
    return [head];
  },
  ErrorCode.TOO_LARGE,
);
test(
  'more frames than maxTensors',
  rejects,
  () => [validFrames()[0], ...Array.from({ length: 65 }, () => Buffer.alloc(0))],
  ErrorCode.TOO_LARGE,
);
test(
  'an unknown dtype',
  rejects,
  () => framesWithHeaders([{ name: 'x', shape: [1], dtype: 9 as DType, byteLength: 4, crc32: 0 }], [Buffer.alloc(4)]),
  ErrorCode.BAD_MESSAGE,
);
test(
  'DTYPE_UNSPECIFIED',
  rejects,
  () =>
    framesWithHeaders(
      [{ name: 'x', shape: [1], dtype: DType.DTYPE_UNSPECIFIED, byteLength: 4, crc32: 0 }],
      [Buffer.alloc(4)],
    ),
  ErrorCode.BAD_MESSAGE,
);
test(
  'duplicate tensor names',
  rejects,
  () => {
    const header = { name: 'x', shape: [0], dtype: DType.UINT8, byteLength: 0, crc32: 0 };
    return framesWithHeaders([header, header], [Buffer.alloc(0), Buffer.alloc(0)]);
  },
  ErrorCode.BAD_MESSAGE,
);
test(
  'an empty tensor name',
  rejects,
  () => framesWithHeaders([{ name: '', shape: [0], dtype: DType.UINT8, byteLength: 0, crc32: 0 }], [Buffer.alloc(0)]),
  ErrorCode.BAD_MESSAGE,
);
test(
  'a tensor name above 128 UTF-8 bytes (65 two-byte characters)',
  rejects,
  () =>
    framesWithHeaders(
      [{ name: 'é'.repeat(65), shape: [0], dtype: DType.UINT8, byteLength: 0, crc32: 0 }],
      [Buffer.alloc(0)],
    ),
  ErrorCode.BAD_MESSAGE,
);
test(
  'rank above maxRank',
  rejects,
  () =>
    framesWithHeaders(
      [{ name: 'x', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], dtype: DType.UINT8, byteLength: 1, crc32: 0 }],
      [Buffer.alloc(1)],
    ),
  ErrorCode.BAD_MESSAGE,
);

const encodeRejects = test.macro({
  exec(t, run: () => unknown, code: ErrorCode) {
    const error = t.throws(run, { instanceOf: ProtocolError });
    t.is(error?.code, code);
  },
  title: (title = '', _run, code: ErrorCode) => `encodeMessage refuses ${title} -> ${ErrorCode[code]}`,
});

test(
  'two bodies',
  encodeRejects,
  () => encodeMessage({ leave: {}, shutdown: {} } as unknown as Parameters<typeof encodeMessage>[0]),
  ErrorCode.BAD_MESSAGE,
);
test(
  'a shape that does not match the data',
  encodeRejects,
  () => encodeMessage({ leave: {} }, [{ name: 'x', data: new Float32Array(6), shape: [2, 2] }]),
  ErrorCode.TENSOR_SIZE_MISMATCH,
);
test(
  'a negative dimension',
  encodeRejects,
  () => encodeMessage({ leave: {} }, [{ name: 'x', data: new Float32Array(0), shape: [-1, 0] }]),
  ErrorCode.BAD_MESSAGE,
);
test(
  'a Float64Array',
  encodeRejects,
  () => encodeMessage({ leave: {} }, [{ name: 'x', data: new Float64Array(1) as unknown as Float32Array, shape: [1] }]),
  ErrorCode.BAD_MESSAGE,
);
test(
  'a message above the receiver limit',
  encodeRejects,
  () =>
    encodeMessage(
      { leave: {} },
      [{ name: 'x', data: new Uint8Array(100), shape: [100] }],
      protocolLimits({ maxMessageBytes: 50 }),
    ),
  ErrorCode.TOO_LARGE,
);

test('ProtocolError.toBody is a wire Error body that keeps code, message and fatality', (t) => {
  const error = t.throws(() => decodeMessage(framesWithHeaders([], [], 3)), { instanceOf: ProtocolError });
  if (error === undefined) return;
  const body = error.toBody(17, 4);
  t.is(body.code, ErrorCode.VERSION_MISMATCH);
  t.true(body.fatal ?? false, 'a version mismatch is fatal');
  t.is(body.inReplyTo, 17);
  t.regex(body.message ?? '', /version 3 .* version 1/);
  const echoed = decodeMessage(encodeMessage({ error: body }));
  t.is(echoed.kind, 'error');
});
