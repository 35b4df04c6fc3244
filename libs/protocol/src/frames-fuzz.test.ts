import test from 'ava';
import { decodeMessage, encodeMessage } from './frames.ts';
import { protocolLimits } from './limits.ts';
import { ProtocolError } from './protocol-error.ts';
import { SAMPLE_ENVELOPES, sampleTensors, seededRandom } from './sample-messages.ts';
import { BODY_KINDS, Envelope } from './schema.ts';

const ITERATIONS = 4000;
const BYTES_PER_ELEMENT = { float32: 4, int32: 4, uint8: 1, bfloat16: 2 } as const;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);

function mutateBytes(random: Random, bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  switch (int(random, 4)) {
    case 0: // flip bits
      for (let i = int(random, 4) + 1; i > 0 && out.length > 0; i--)
        out[int(random, out.length)] ^= 1 << int(random, 8);
      return out;
    case 1: // truncate
      return out.subarray(0, int(random, out.length + 1));
    case 2: // append garbage
      return Buffer.concat([out, Buffer.from(Array.from({ length: int(random, 16) + 1 }, () => int(random, 256)))]);
    default: // overwrite a byte with an extreme value
      if (out.length > 0) out[int(random, out.length)] = random() < 0.5 ? 0xff : 0x00;
      return out;
  }
}

/** Re-encodes the envelope with a lying header field, keeping the frames. */
function mutateHeader(random: Random, frames: readonly Uint8Array[]): Uint8Array[] {
  let envelope: Record<string, unknown>;
  try {
    envelope = Envelope.toObject(Envelope.decode(frames[0]));
  } catch {
    return [...frames]; // an earlier mutation already broke the envelope
  }
  const headers = (envelope.tensors ?? []) as Record<string, unknown>[];
  if (headers.length === 0) return [...frames];
  const header = headers[int(random, headers.length)];
  const choices: Record<string, unknown>[] = [
    { byteLength: int(random, 0x100000000) },
    { shape: Array.from({ length: int(random, 10) }, () => int(random, 0x100000000)) },
    { dtype: int(random, 6) },
    { crc32: int(random, 0x100000000) },
    { name: random() < 0.5 ? '' : 'x'.repeat(int(random, 300)) },
  ];
  Object.assign(header, choices[int(random, choices.length)]);
  return [Envelope.encode(Envelope.fromObject(envelope)).finish(), ...frames.slice(1)];
}

function mutateFrameList(random: Random, frames: Uint8Array[]): Uint8Array[] {
  const out = [...frames];
  switch (int(random, 4)) {
    case 0:
      out.splice(int(random, out.length), 1);
      return out;
    case 1:
      out.splice(int(random, out.length + 1), 0, out[int(random, out.length)]);
      return out;
    case 2: {
      const a = int(random, out.length);
      const b = int(random, out.length);
      [out[a], out[b]] = [out[b], out[a]];
      return out;
    }
    default:
      return [Buffer.from(Array.from({ length: int(random, 64) }, () => int(random, 256))), ...out.slice(1)];
  }
}

test(`${ITERATIONS} mutated messages decode or throw ProtocolError, never anything else`, (t) => {
  const random = seededRandom(20240611);
  const limits = protocolLimits({ maxMessageBytes: 1 << 20 });
  const tally = new Map<string, number>();
  for (let i = 0; i < ITERATIONS; i++) {
    const kind = BODY_KINDS[int(random, BODY_KINDS.length)];
    const tensors = sampleTensors().filter(() => random() < 0.6);
    const valid = encodeMessage(SAMPLE_ENVELOPES[kind], tensors);
    let frames: Uint8Array[] = valid;
    for (let round = int(random, 3) + 1; round > 0; round--) {
      const what = int(random, 3);
      if (what === 0) frames = mutateFrameList(random, frames);
      else if (what === 1) frames = mutateHeader(random, frames);
      else {
        const index = int(random, frames.length);
        frames = frames.map((frame, j) => (j === index ? mutateBytes(random, frame) : frame));
      }
      if (frames.length === 0) break;
    }
    try {
      const message = decodeMessage(frames, limits);
      tally.set('accepted', (tally.get('accepted') ?? 0) + 1);
      // Whatever got through must be internally consistent.
      for (const tensor of message.tensors) {
        const elements = tensor.shape.reduce((a, b) => a * b, 1);
        if (tensor.data.length !== elements || tensor.data.byteLength !== elements * BYTES_PER_ELEMENT[tensor.dtype]) {
          return t.fail(`iteration ${i}: accepted tensor '${tensor.name}' whose data does not match its shape`);
        }
      }
    } catch (error) {
      if (!(error instanceof ProtocolError))
        return t.fail(`iteration ${i} threw ${String(error)}, not a ProtocolError`);
      tally.set(error.codeName, (tally.get(error.codeName) ?? 0) + 1);
    }
  }
  t.log(Object.fromEntries([...tally].sort()));
  // The mutations must actually reach the deep checks, not only the envelope parser.
  for (const code of ['BAD_MESSAGE', 'CRC_MISMATCH', 'FRAME_COUNT_MISMATCH', 'TENSOR_SIZE_MISMATCH']) {
    t.true((tally.get(code) ?? 0) > 0, `no mutation produced ${code}`);
  }
});

test('random byte soup never throws anything but ProtocolError', (t) => {
  const random = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const frames = Array.from({ length: int(random, 4) + 1 }, () =>
      Buffer.from(Array.from({ length: int(random, 48) }, () => int(random, 256))),
    );
    try {
      decodeMessage(frames);
    } catch (error) {
      if (!(error instanceof ProtocolError)) return t.fail(`input ${i} threw ${String(error)}`);
    }
  }
  t.pass();
});
