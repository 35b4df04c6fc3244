import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `data` continuing from `value` (0 to start): zlib's crc32(), IEEE 802.3 polynomial. */
export type Crc32 = (data: Uint8Array, value?: number) => number;

/** Which implementation {@link crc32} is. */
export let crc32Implementation: 'simd' | 'zlib' = 'zlib';

function load(): Crc32 {
  try {
    // Optional native addon (prebuilt per platform): PCLMUL/ARMv8 CRC, about 3.5× zlib on the project's machine.
    const native = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32(data: Uint8Array, value?: number): number;
    };
    crc32Implementation = 'simd';
    return (data, value = 0) => native.crc32(data, value) >>> 0;
  } catch {
    return (data, value = 0) => zlibCrc32(data, value);
  }
}

/**
 * The CRC-32 of the protocol's frame checks and parameter checksums, as an unsigned 32-bit integer. Promises: the
 * very numbers of zlib's crc32() whichever implementation loaded (crc32.test.ts compares them), so every process of a
 * run agrees even where the native addon is missing and zlib is used.
 */
export const crc32: Crc32 = load();
