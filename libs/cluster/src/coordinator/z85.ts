const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/**
 * Z85 (ZeroMQ RFC 32) encoding of `bytes`, as zeromq's curveKeyPair() prints keys: a 32-byte CURVE key becomes 40
 * characters. Precondition: bytes.length is a multiple of 4. Does not: decode (see z85Decode).
 */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`z85Encode: ${bytes.length} bytes is not a multiple of 4.`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = '';
    for (let k = 0; k < 5; k++) {
      chunk = ALPHABET[value % 85] + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** Decodes Z85 text (length a multiple of 5) to bytes; throws a RangeError naming the problem for anything else. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0)
    throw new RangeError(`z85Decode: ${text.length} characters is not a multiple of 5; a CURVE key is 40 characters.`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let k = 0; k < 5; k++) {
      const digit = ALPHABET.indexOf(text[i + k]);
      if (digit < 0) throw new RangeError(`z85Decode: '${text[i + k]}' is not a Z85 character.`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff)
      throw new RangeError('z85Decode: a 5-character group exceeds 32 bits; the key text is damaged.');
    const o = (i / 5) * 4;
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}
