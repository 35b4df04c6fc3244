import * as tf from '@tensorflow/tfjs-core';

/** The complete, serialisable state of an {@link Rng}: four 32-bit words. */
export interface RngState {
  readonly words: readonly [number, number, number, number];
}

/**
 * A seeded random generator (xoshiro128**) whose whole state can be saved and restored.
 *
 * Promises: the same seed (or restored state) yields the same sequence on every platform and backend,
 * because every draw is made in JavaScript, not by a tfjs kernel. This is what makes resume exact.
 * Does not: provide cryptographic randomness.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seeds the four state words from `seed` with splitmix32, so nearby seeds give unrelated streams. */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  state(): RngState {
    return { words: [this.s0, this.s1, this.s2, this.s3] };
  }

  setState(state: RngState): void {
    const [a, b, c, d] = state.words;
    if ((a | b | c | d) === 0)
      throw new Error('Rng state is all zeros, which xoshiro cannot leave; restore a state saved by Rng.state().');
    this.s0 = a >>> 0;
    this.s1 = b >>> 0;
    this.s2 = c >>> 0;
    this.s3 = d >>> 0;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** A uniform float64 in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform integer in [0, n), without modulo bias. Precondition: 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296)
      throw new RangeError(`Rng.int needs an integer n in [1, 2^32], got ${n}.`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fills `out` with standard normal draws (Box-Muller, two per pair of uniforms) and returns it. */
  fillNormal<T extends Float32Array | Float64Array>(out: T): T {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.uniform(); // (0, 1]: log is finite
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  /** A float32 tensor of standard normal draws. The caller owns (and disposes) the tensor. */
  normal<T extends tf.Tensor = tf.Tensor>(shape: number[]): T {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(this.fillNormal(new Float32Array(size)), shape, 'float32') as T;
  }

  /** `count` integers drawn uniformly from [0, n). */
  ints(count: number, n: number): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.int(n);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
