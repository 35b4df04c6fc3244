import test from 'ava';
import type { ExecutionContext } from 'ava';
import { decodeMessage, encodeMessage, type DecodedTensor, type TensorInput } from './frames.ts';
import { SAMPLE_ENVELOPES, sampleTensors } from './sample-messages.ts';
import { ProtocolError } from './protocol-error.ts';
import { BODY_KINDS, ErrorCode, PROTOCOL_VERSION, type BodyKind } from './schema.ts';
import { parameterChecksum } from './validate.ts';

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function assertSameTensors(
  t: ExecutionContext,
  actual: readonly DecodedTensor[],
  expected: readonly TensorInput[],
): void {
  t.deepEqual(
    actual.map((tensor) => tensor.name),
    expected.map((tensor) => tensor.name),
  );
  expected.forEach((want, i) => {
    const got = actual[i];
    t.deepEqual(got.shape, [...want.shape], `shape of ${want.name}`);
    t.is(got.data.constructor, want.data.constructor, `dtype of ${want.name}`);
    // Byte comparison: NaN, -0 and subnormals must survive bit for bit.
    t.deepEqual(bytesOf(got.data), bytesOf(want.data), `bytes of ${want.name}`);
  });
}

const roundTrips = test.macro({
  exec(t, kind: BodyKind) {
    const envelope = SAMPLE_ENVELOPES[kind];
    const tensors = sampleTensors();
    const frames = encodeMessage(envelope, tensors);
    t.is(frames.length, 1 + tensors.length);
    const message = decodeMessage(frames);
    t.is(message.kind, kind);
    t.is(message.envelope.protocolVersion, PROTOCOL_VERSION);
    t.is(message.envelope.sequence, envelope.sequence ?? 0);
    t.like(message.body, envelope[kind] as Record<string, unknown>);
    assertSameTensors(t, message.tensors, tensors);
  },
  title: (_, kind: BodyKind) => `${kind} round-trips with float32, int32 and uint8 tensors`,
});

for (const kind of BODY_KINDS) test(roundTrips, kind);

test('every body kind also round-trips without tensors, and defaults read as proto3 zero values', (t) => {
  for (const kind of BODY_KINDS) {
    const message = decodeMessage(encodeMessage({ [kind]: {} } as unknown as Parameters<typeof encodeMessage>[0]));
    t.is(message.kind, kind);
    t.deepEqual(message.tensors, []);
    t.is(message.envelope.workerId, 0);
    t.is(message.envelope.runId, '');
  }
});

test('64-bit-free schema: every decoded number is a plain JavaScript number, exact at 2^32 - 1', (t) => {
  const message = decodeMessage(
    encodeMessage({ sequence: 0xffffffff, stepStart: { step: 0xffffffff, indices: [0xffffffff] } }),
  );
  t.is(message.envelope.sequence, 4294967295);
  if (message.kind !== 'stepStart') return t.fail();
  t.is(message.body.step, 4294967295);
  t.deepEqual(message.body.indices, [4294967295]);
});

test('the envelope starts with field 1 (protocol_version) as a varint, as the stability rule promises', (t) => {
  const [head] = encodeMessage({ heartbeat: { step: 1 } });
  t.is(head[0], 0x08); // field 1, wire type 0
  t.is(head[1], PROTOCOL_VERSION);
});

test('tensor headers carry the known CRC-32 of "123456789" and the exact byte length', (t) => {
  const check = Uint8Array.from(Buffer.from('123456789', 'ascii'));
  const message = decodeMessage(encodeMessage({ heartbeat: {} }, [{ name: 'check', data: check, shape: [9] }]));
  const [header] = message.envelope.tensors;
  t.is(header.crc32, 0xcbf43926);
  t.is(header.byteLength, 9);
});

test('a decoded tensor reports its verified CRC-32, which for parameters is their parameter checksum', (t) => {
  const params = new Float32Array(777).map((_, i) => Math.sin(i) * 1e-3);
  const decoded = decodeMessage(
    encodeMessage({ update: { step: 1 } }, [{ name: 'parameters', data: params, shape: [777] }]),
  ).tensors[0];
  t.is(decoded.crc32, parameterChecksum(params));
  t.is(
    decoded.crc32,
    decodeMessage(
      encodeMessage({ update: { step: 1 } }, [
        { name: 'parameters', data: params, shape: [777], crc32: decoded.crc32 },
      ]),
    ).tensors[0].crc32,
  );
});

test('a CRC-32 supplied by the sender is checked by the receiver: a wrong one fails with CRC_MISMATCH', (t) => {
  const params = new Float32Array(16).fill(0.5);
  const frames = encodeMessage({ update: { step: 1 } }, [
    { name: 'parameters', data: params, shape: [16], crc32: (parameterChecksum(params) ^ 1) >>> 0 },
  ]);
  const error = t.throws(() => decodeMessage(frames), { instanceOf: ProtocolError });
  t.is(error?.code, ErrorCode.CRC_MISMATCH);
});

test('tensor frames are zero-copy views on encode, and aligned frames decode without a copy', (t) => {
  const gradient = new Float32Array(1024).map((_, i) => i / 7);
  const frames = encodeMessage({ gradient: { step: 3, samples: 2 } }, [
    { name: 'gradient', data: gradient, shape: [1024] },
  ]);
  t.is(frames[1].buffer, gradient.buffer);
  const decoded = decodeMessage(frames).tensors[0].data;
  t.is(decoded.buffer, gradient.buffer);
  t.deepEqual(decoded, gradient);
});

test('a misaligned frame decodes into an aligned copy with the same values', (t) => {
  const values = Float32Array.from([1.25, -3, 1e30]);
  const [head, frame] = encodeMessage({ update: { step: 1 } }, [{ name: 'delta', data: values, shape: [3] }]);
  const shifted = Buffer.alloc(frame.byteLength + 1);
  frame.copy(shifted, 1);
  const misaligned = shifted.subarray(1);
  t.is(misaligned.byteOffset % 4, 1);
  const decoded = decodeMessage([head, misaligned]).tensors[0].data;
  t.true(decoded instanceof Float32Array);
  t.deepEqual(Array.from(decoded), [1.25, -3, 1e30].map(Math.fround));
});

test('a 36M-float gradient encodes and decodes (size bound of the largest preset)', (t) => {
  const gradient = new Float32Array(36_000_000);
  gradient[35_999_999] = 0.5;
  const frames = encodeMessage({ gradient: { step: 1, samples: 1 } }, [
    { name: 'gradient', data: gradient, shape: [36_000_000] },
  ]);
  const decoded = decodeMessage(frames).tensors[0];
  t.deepEqual(decoded.shape, [36_000_000]);
  t.is(decoded.data[35_999_999], 0.5);
});

test('a zero-sized tensor is valid however large its other dimensions ([65536, 65536, 0] is 0 bytes)', (t) => {
  const frames = encodeMessage({ stepStart: { step: 0 } }, [
    { name: 'samples', data: new Uint8Array(0), shape: [65536, 65536, 0] },
    { name: 'labels', data: new Int32Array(0), shape: [0, 4294967295] },
  ]);
  const [samples, labels] = decodeMessage(frames).tensors;
  t.deepEqual(samples.shape, [65536, 65536, 0]);
  t.is(samples.data.length, 0);
  t.deepEqual(labels.shape, [0, 4294967295]);
});
