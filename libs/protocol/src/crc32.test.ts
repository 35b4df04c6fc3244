import test from 'ava';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, crc32Implementation } from './crc32.ts';

test("the native CRC-32 loads here and gives zlib's numbers: empty, short, unaligned views, chained, 1 MiB", (t) => {
  t.is(crc32Implementation, 'simd', 'the @node-rs/crc32 prebuilt addon loads on linux-x64');
  const floats = Float32Array.from({ length: 300_000 }, (_, i) => Math.sin(i) * 1e3);
  const bytes = new Uint8Array(floats.buffer);
  const inputs = [new Uint8Array(0), Uint8Array.of(1), Buffer.from('hello'), bytes.subarray(3, 1001), bytes];
  for (const input of inputs) t.is(crc32(input), zlibCrc32(input), `${input.length} bytes`);
  t.is(crc32(bytes.subarray(77), crc32(bytes.subarray(0, 77))), zlibCrc32(bytes), 'chained equals whole');
  t.is(crc32(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
  t.true(crc32(Buffer.from([0xff, 0xff, 0xff, 0xff])) > 0x7fffffff, 'unsigned');
});
