import { fromBfloat16, toBfloat16 } from '@ddpm/protocol';

/**
 * UpdateBuckets as bfloat16 deltas (`--wire-dtype bfloat16`): half the bytes of the new parameters.
 *
 * Promises: {@link quantize} rewrites the proposed parameters to exactly what a worker rebuilds from the delta it
 * sends (current + widened delta, in float32), so the coordinator adopts the same bits as every replica. A returned
 * delta stays intact until the same range is quantized again two steps later (two buffers alternate by step parity,
 * as the optimizer's proposal buffers do), which outlives its zero-copy send.
 * Does not: touch Adam's state or the EMA, or quantize whole-parameter Updates (clipped steps stay float32).
 */
export class Bfloat16Updates {
  private readonly deltas: [Uint16Array, Uint16Array];
  private scratch = new Float32Array(0);

  constructor(size: number) {
    this.deltas = [new Uint16Array(size), new Uint16Array(size)];
  }

  /** The bfloat16 delta of `proposed` (the range at `start`) from `current`; `proposed` becomes current + delta. */
  quantize(step: number, start: number, current: Float32Array, proposed: Float32Array): Uint16Array {
    const length = proposed.length;
    if (this.scratch.length < length) this.scratch = new Float32Array(length);
    const delta = this.scratch.subarray(0, length);
    for (let i = 0; i < length; i++) delta[i] = proposed[i] - current[i];
    const wire = toBfloat16(delta, this.deltas[step % 2].subarray(start, start + length));
    fromBfloat16(wire, delta);
    for (let i = 0; i < length; i++) proposed[i] = current[i] + delta[i];
    return wire;
  }
}

/** What a worker does with a delta UpdateBucket: next = current + widened delta, element by element in float32. */
export function applyBfloat16Delta(current: Float32Array, delta: Uint16Array, next: Float32Array): void {
  fromBfloat16(delta, next);
  for (let i = 0; i < next.length; i++) next[i] = current[i] + next[i];
}
