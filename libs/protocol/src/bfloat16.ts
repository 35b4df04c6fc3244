/**
 * bfloat16 (the upper half of a float32) for gradients on the wire. Rounding is to nearest, ties to even, as in
 * PyTorch and TPUs; NaN stays a (quiet) NaN and ±Infinity stays itself; values past bfloat16's largest finite round to
 * ±Infinity as IEEE rounding does. Widening back to float32 is exact.
 */
export function toBfloat16(source: Float32Array, out: Uint16Array = new Uint16Array(source.length)): Uint16Array {
  if (out.length !== source.length)
    throw new RangeError(`toBfloat16: out holds ${out.length} elements, source ${source.length}`);
  const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x0040; // NaN: keep the sign and make sure a mantissa bit survives the truncation
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Widens bfloat16 bit patterns to float32 (exact: the low 16 bits become zero). */
export function fromBfloat16(source: Uint16Array, out: Float32Array = new Float32Array(source.length)): Float32Array {
  if (out.length !== source.length)
    throw new RangeError(`fromBfloat16: out holds ${out.length} elements, source ${source.length}`);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < source.length; i++) bits[i] = source[i] << 16;
  return out;
}
