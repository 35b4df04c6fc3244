import type { ProtocolLimits } from './limits.ts';
import { ProtocolError } from './protocol-error.ts';
import { ErrorCode } from './schema.ts';

/** Envelope field number of the repeated TensorHeader list (envelope.proto). */
const TENSORS_FIELD = 5;

/**
 * Walks the top-level fields of an envelope frame without decoding them, and rejects frames that would
 * make the full decode expensive: more TensorHeaders than `limits.maxTensors` (TOO_LARGE; a 1 MiB envelope
 * of empty headers would otherwise become half a million objects), and malformed wire data or groups
 * (BAD_MESSAGE; proto3 has no groups, and nested groups are a recursion vector).
 *
 * Promises: O(number of top-level fields) time, no allocation beyond a few numbers, throws only ProtocolError.
 * Does not: look inside nested messages, or check field values (the generated decoder does that).
 */
export function scanEnvelope(bytes: Uint8Array, limits: ProtocolLimits): void {
  let position = 0;
  let headers = 0;

  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (position >= bytes.length) malformed(`a varint runs past the end at byte ${position}`);
      const byte = bytes[position++];
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    return malformed(`a varint is longer than 10 bytes at byte ${position}`);
  };

  while (position < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) malformed(`field number 0 at byte ${position}`);
    switch (wireType) {
      case 0:
        varint();
        break;
      case 1:
        position += 8;
        break;
      case 2: {
        const length = varint();
        position += length;
        if (field === TENSORS_FIELD && ++headers > limits.maxTensors) {
          throw new ProtocolError(
            ErrorCode.TOO_LARGE,
            `the envelope lists more than ${limits.maxTensors} tensor headers; send fewer, larger (flattened) tensors.`,
          );
        }
        break;
      }
      case 5:
        position += 4;
        break;
      default:
        malformed(`wire type ${wireType} (field ${field}); groups and unknown wire types are not allowed`);
    }
    if (position > bytes.length) malformed(`field ${field} runs past the end of the ${bytes.length}-byte frame`);
  }
}

function malformed(detail: string): never {
  throw new ProtocolError(
    ErrorCode.BAD_MESSAGE,
    `the first frame is not a valid ddpm.v1.Envelope (${detail}); encode it with the schema in proto/ddpm/v1 and send it as frame 0.`,
  );
}
