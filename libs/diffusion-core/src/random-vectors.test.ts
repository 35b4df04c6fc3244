import test from 'ava';
import { readFileSync } from 'node:fs';
import { Rng } from './random.ts';

/** Known answers computed by fixtures/rng-vectors.py, an implementation of the same algorithms in Python. */
interface RngVector {
  seed: number;
  state: number[];
  uint32: number[];
  uniform: number[];
  int10: number[];
  int1000: number[];
  normal_f32: number[];
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/rng-vectors.json', import.meta.url), 'utf8')) as {
  rng: RngVector[];
};

test('Rng matches the independent known-answer vectors: seeding, uint32, uniforms, integers', (t) => {
  t.true(vectors.rng.length >= 5);
  for (const v of vectors.rng) {
    t.deepEqual([...new Rng(v.seed).state().words], v.state, `seed ${v.seed}: splitmix32 state`);
    const draws = (f: (rng: Rng) => number, n: number): number[] => {
      const rng = new Rng(v.seed);
      return Array.from({ length: n }, () => f(rng));
    };
    t.deepEqual(
      draws((r) => r.nextUint32(), v.uint32.length),
      v.uint32,
      `seed ${v.seed}: xoshiro128**`,
    );
    t.deepEqual(
      draws((r) => r.uniform(), v.uniform.length),
      v.uniform,
      `seed ${v.seed}: 53-bit uniforms`,
    );
    t.deepEqual(
      draws((r) => r.int(10), v.int10.length),
      v.int10,
      `seed ${v.seed}: int(10)`,
    );
    t.deepEqual(
      draws((r) => r.int(1000), v.int1000.length),
      v.int1000,
      `seed ${v.seed}: int(1000)`,
    );
  }
});

test('Rng normals match the known answers to float32 precision (libm may differ in the last bit)', (t) => {
  for (const v of vectors.rng) {
    const normals = new Rng(v.seed).fillNormal(new Float32Array(v.normal_f32.length));
    normals.forEach((x, i) => {
      const expected = v.normal_f32[i];
      t.true(
        Math.abs(x - expected) <= 2 ** -22 * Math.max(1, Math.abs(expected)),
        `seed ${v.seed} normal ${i}: ${x} vs ${expected}`,
      );
    });
  }
});
