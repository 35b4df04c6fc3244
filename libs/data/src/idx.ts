import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);

/** The IDX magic of an unsigned-byte tensor with 3 dimensions (MNIST images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** The IDX magic of an unsigned-byte tensor with 1 dimension (MNIST labels). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** A decoded IDX file of unsigned bytes. */
export interface IdxArray {
  readonly path: string;
  readonly magic: number;
  /** The dimension sizes as stored in the header, e.g. [10000, 28, 28] for MNIST test images. */
  readonly dims: readonly number[];
  /** The payload, row-major, exactly `dims` product bytes long. */
  readonly data: Uint8Array;
}

/**
 * Reads an IDX file of unsigned bytes (type code 0x08), gzip-compressed (detected by its 1f 8b signature) or plain.
 *
 * Promises: the header (big-endian int32 magic, then one big-endian int32 per dimension) is checked and the
 * payload is exactly as long as the dimensions say, otherwise it throws an error naming the file and the fix.
 * Does not: support IDX types other than unsigned byte, or check what the dimensions mean (see loadMnist).
 */
export async function readIdx(path: string): Promise<IdxArray> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`IDX file ${path} does not exist; check the path, or download the MNIST files into that folder.`);
    }
    throw new Error(`Cannot read IDX file ${path} (${code ?? String(error)}); check that it is a readable file.`);
  }
  const bytes = await decompressIfGzip(path, raw);
  return parseIdx(path, bytes);
}

async function decompressIfGzip(path: string, raw: Buffer): Promise<Uint8Array> {
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (error) {
      throw new Error(
        `IDX file ${path} starts like gzip but is corrupt or truncated (${(error as Error).message}); ` +
          'download it again and compare it with SHA256SUMS.',
      );
    }
  }
  if (raw.length >= 2 && raw[0] === 0 && raw[1] === 0) return raw;
  throw new Error(
    `IDX file ${path} is neither gzip (1f 8b) nor plain IDX (00 00); its first bytes are ` +
      `${hex(raw.subarray(0, 4))}. Give a .gz or an uncompressed MNIST file, not an HTML page or an archive.`,
  );
}

function parseIdx(path: string, bytes: Uint8Array): IdxArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) {
    throw new Error(
      `IDX file ${path} is ${bytes.length} bytes long, too short for the 4-byte magic; the file is truncated, download it again.`,
    );
  }
  const magic = view.getInt32(0, false);
  const type = (magic >>> 8) & 0xff;
  const rank = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || rank < 1) {
    throw new Error(
      `IDX file ${path} has magic 0x${(magic >>> 0).toString(16).padStart(8, '0')}, not an unsigned-byte IDX ` +
        `(0x00000801 labels, 0x00000803 images); this is not an MNIST-style file, or its header is damaged.`,
    );
  }
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new Error(`IDX file ${path} is truncated inside its ${headerLength}-byte header; download it again.`);
  }
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) {
    const size = view.getInt32(4 + 4 * d, false);
    if (size < 0)
      throw new Error(
        `IDX file ${path} declares a negative dimension ${size}; its header is damaged, download it again.`,
      );
    dims.push(size);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  const payload = bytes.length - headerLength;
  if (payload < expected) {
    throw new Error(
      `IDX file ${path} is truncated: its header [${dims.join(', ')}] needs ${expected} payload bytes but only ` +
        `${payload} are present; download it again and compare it with SHA256SUMS.`,
    );
  }
  if (payload > expected) {
    throw new Error(
      `IDX file ${path} has ${payload - expected} bytes more than its header [${dims.join(', ')}] declares; ` +
        'the file is damaged or two files were concatenated, download it again.',
    );
  }
  return { path, magic, dims, data: bytes.subarray(headerLength) };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') || '(empty file)';
}
