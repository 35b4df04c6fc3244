import test from 'ava';
import { decodeMessage, encodeMessage, type DecodedTensor } from './frames.ts';
import { ProtocolError } from './protocol-error.ts';
import { ErrorCode } from './schema.ts';
import {
  countNonFinite,
  expectBody,
  expectChecksum,
  expectFinite,
  expectOnlyTensors,
  expectRun,
  expectStep,
  expectTensor,
  findTensor,
  nextSequence,
  parameterChecksum,
} from './validate.ts';

/** Bitwise CRC-32 (IEEE, reflected), the textbook definition: an independent reference for the checksum. */
function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof ProtocolError ? error.codeName : `not a ProtocolError: ${String(error)}`;
  }
  return undefined;
}

const tensors: readonly DecodedTensor[] = decodeMessage(
  encodeMessage({ stepStart: { step: 1 } }, [
    { name: 'samples', data: new Uint8Array(2 * 28 * 28), shape: [2, 28, 28, 1] },
    { name: 'labels', data: Int32Array.from([4, 9]), shape: [2] },
  ]),
).tensors;

test('expectTensor returns the typed array when name, dtype and shape (with wildcards) match', (t) => {
  const samples = expectTensor(tensors, 'samples', [null, 28, 28, 1], 'uint8');
  t.true(samples instanceof Uint8Array);
  t.is(samples.length, 2 * 28 * 28);
  t.deepEqual(Array.from(expectTensor(tensors, 'labels', [2], 'int32')), [4, 9]);
});

test('expectTensor reports a missing tensor, a wrong dtype and a wrong shape as TENSOR_MISMATCH', (t) => {
  t.is(
    codeOf(() => expectTensor(tensors, 'gradient', [10], 'float32')),
    'TENSOR_MISMATCH',
  );
  t.is(
    codeOf(() => expectTensor(tensors, 'labels', [2], 'float32')),
    'TENSOR_MISMATCH',
  );
  t.is(
    codeOf(() => expectTensor(tensors, 'labels', [3], 'int32')),
    'TENSOR_MISMATCH',
  );
  t.is(
    codeOf(() => expectTensor(tensors, 'samples', [2, 28, 28], 'uint8')),
    'TENSOR_MISMATCH',
  );
  t.is(findTensor(tensors, 'gradient'), undefined);
  t.is(
    codeOf(() => expectOnlyTensors(tensors, ['samples'])),
    'TENSOR_MISMATCH',
  );
  t.is(
    codeOf(() => expectOnlyTensors(tensors, ['samples', 'labels'])),
    undefined,
  );
});

test('expectBody narrows the kind or throws UNEXPECTED_MESSAGE', (t) => {
  const message = decodeMessage(encodeMessage({ heartbeat: { step: 5 } }));
  t.is(expectBody(message, 'heartbeat', 'test').body.step, 5);
  t.is(
    codeOf(() => expectBody(message, 'gradient', 'while waiting for gradients')),
    'UNEXPECTED_MESSAGE',
  );
});

test('expectStep accepts only the current step and says whether a message is late or ahead', (t) => {
  t.is(
    codeOf(() => expectStep(7, 7, 'gradient')),
    undefined,
  );
  const late = t.throws(() => expectStep(6, 7, 'gradient'), { instanceOf: ProtocolError });
  t.regex(late?.message ?? '', /late/);
  const ahead = t.throws(() => expectStep(9, 7, 'gradient'), { instanceOf: ProtocolError });
  t.regex(ahead?.message ?? '', /ahead/);
  t.is(ahead?.code, ErrorCode.WRONG_STEP);
  t.is(
    codeOf(() => expectRun('run-1', 'run-2')),
    'STALE_STATE',
  );
});

test('parameterChecksum is the CRC-32 of the little-endian float32 bytes', (t) => {
  const parameters = Float32Array.from([1, -2.5, 0, 1e-3, Number.NaN]);
  // Little-endian bytes written one by one with DataView, independent of host byte order.
  const bytes = new Uint8Array(parameters.length * 4);
  const view = new DataView(bytes.buffer);
  parameters.forEach((value, i) => view.setFloat32(i * 4, value, true));
  t.is(parameterChecksum(parameters), referenceCrc32(bytes));
  t.is(parameterChecksum(Float32Array.from([1])), referenceCrc32(Uint8Array.from([0x00, 0x00, 0x80, 0x3f])));
  t.not(
    parameterChecksum(Float32Array.from([0])),
    parameterChecksum(Float32Array.from([-0])),
    '-0 and +0 differ bitwise',
  );
  t.is(
    codeOf(() => expectChecksum(0xdeadbeef, 0xdeadbeef, 'update')),
    undefined,
  );
  t.is(
    codeOf(() => expectChecksum(1, 2, 'update')),
    'STALE_STATE',
  );
});

test('countNonFinite counts NaN and both infinities, expectFinite rejects them', (t) => {
  t.is(countNonFinite(Float32Array.from([0, Number.NaN, 1, Infinity, -Infinity, 3.4e38])), 3);
  t.is(countNonFinite(new Float32Array(10)), 0);
  t.is(
    codeOf(() => expectFinite(Number.NaN, 'loss')),
    'NON_FINITE',
  );
  t.is(
    codeOf(() => expectFinite(0.5, 'loss')),
    undefined,
  );
});

test('nextSequence counts from 1 and wraps past 2^32 - 1 to 1, never 0', (t) => {
  t.is(nextSequence(0), 1);
  t.is(nextSequence(41), 42);
  t.is(nextSequence(0xffffffff), 1);
});
