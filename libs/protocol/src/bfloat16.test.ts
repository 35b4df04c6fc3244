import test from 'ava';
import { fromBfloat16, toBfloat16 } from './bfloat16.ts';

const bitsOf = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0];
const floatOf = (bits: number): number => new Float32Array(Uint32Array.of(bits).buffer)[0];

test('known values: exact ones keep their bits, others round to nearest with ties to even', (t) => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties to even gives 1.
    [1 + 2 ** -8, 0x3f80],
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd mantissa) and 1 + 2^-6 (even): rounds up.
    [1 + 3 * 2 ** -8, 0x3f82],
    // Just above halfway rounds up.
    [floatOf(0x3f808001), 0x3f81],
    [3.1415927, 0x4049],
    // The largest float32 rounds past bfloat16's largest finite to Infinity.
    [floatOf(0x7f7fffff), 0x7f80],
  ];
  const out = toBfloat16(Float32Array.from(cases.map(([x]) => x)));
  t.deepEqual(
    [...out],
    cases.map(([, b]) => b),
  );
});

test('NaN stays NaN (also one whose set mantissa bits are all in the truncated half)', (t) => {
  const nans = Float32Array.from([NaN, floatOf(0x7f800001), floatOf(0xff800001)]);
  const widened = fromBfloat16(toBfloat16(nans));
  t.true([...widened].every(Number.isNaN));
  t.is(bitsOf(widened[2]) >>> 31, 1, 'the sign survives');
});

test('widening is exact, and every float32 lands within half a bfloat16 step (relative 2^-8)', (t) => {
  const xs = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 40) - 20));
  const back = fromBfloat16(toBfloat16(xs));
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] === 0) continue;
    const relative = Math.abs(back[i] - xs[i]) / Math.abs(xs[i]);
    if (relative > 2 ** -8) return t.fail(`${xs[i]} became ${back[i]}`);
    if ((bitsOf(back[i]) & 0xffff) !== 0) return t.fail('low bits set after widening');
  }
  t.pass();
});
