import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { crc32 } from 'node:zlib';

const MAGIC = Buffer.from('DDPMSTAT', 'latin1');
const FORMAT_VERSION = 1;

/** One named float32 section of a state file. */
export interface SectionEntry {
  readonly name: string;
  readonly length: number;
}

/** Options of {@link writeStateFile}. */
export interface StateFileWriteOptions {
  /**
   * Test hook: block this many milliseconds after half of the temp file was written (before fsync and rename), so a
   * test can kill the process in the middle of a write. 0 or absent in normal use.
   */
  readonly pauseMidWriteMs?: number;
}

/** What {@link readStateFile} returns: the JSON metadata and the float32 sections by name. */
export interface StateFile<M> {
  readonly meta: M;
  readonly sections: ReadonlyMap<string, Float32Array>;
}

/**
 * Writes JSON metadata plus named float32 sections to `path` atomically: a temp file in the same directory, fsync,
 * rename over the target, fsync of the directory. A reader sees the old file or the new one, never a mix.
 *
 * Layout: "DDPMSTAT" | u32 format version | u32 header length | u32 header crc32 | header JSON | payload,
 * where the header JSON holds { meta, sections: [{name, length}], payloadBytes, payloadCrc32 } and the payload is the
 * sections' little-endian float32 values back to back.
 * Does not: create the parent directory or keep older files (the caller rotates).
 */
export function writeStateFile(
  path: string,
  meta: unknown,
  sections: Record<string, Float32Array>,
  options: StateFileWriteOptions = {},
): void {
  const entries: SectionEntry[] = Object.entries(sections).map(([name, data]) => ({ name, length: data.length }));
  const payloads = Object.values(sections).map((data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  let payloadCrc32 = 0;
  let payloadBytes = 0;
  for (const p of payloads) {
    // Node 20's zlib.crc32 returns 0, not the running value, for an empty buffer over an empty ArrayBuffer (the empty
    // adam_v of --sync-every); an empty section adds nothing to the checksum anyway.
    if (p.length > 0) payloadCrc32 = crc32(p, payloadCrc32);
    payloadBytes += p.length;
  }
  const header = Buffer.from(JSON.stringify({ meta, sections: entries, payloadBytes, payloadCrc32 }), 'utf8');
  const prefix = Buffer.alloc(20);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(FORMAT_VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);
  prefix.writeUInt32LE(crc32(header), 16);

  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w');
  try {
    const chunks = [prefix, header, ...payloads];
    chunks.forEach((chunk, i) => {
      if (options.pauseMidWriteMs && i === Math.ceil(chunks.length / 2)) pause(options.pauseMidWriteMs);
      writeAll(fd, chunk);
    });
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    if (existsSync(temp)) unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Blocks the thread (the test hook must stop the world, as a slow disk would). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writeAll(fd: number, chunk: Buffer): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
}

/**
 * Reads and verifies a file written by {@link writeStateFile}: magic, version, both checksums and every length.
 * Throws an Error naming the file and what to do when any check fails (a truncated or corrupt file never yields data).
 */
export function readStateFile<M>(path: string): StateFile<M> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(
      `Cannot read ${path}: ${(error as Error).message}. Check the path (a run directory's final weights are DIR/weights.ddpm).`,
    );
  }
  const corrupt = (what: string): Error =>
    new Error(
      `${path} is not a valid ddpm state file (${what}). It may be truncated or from another program; use an earlier checkpoint or re-run training.`,
    );
  if (bytes.length < 20 || !bytes.subarray(0, 8).equals(MAGIC)) throw corrupt('bad magic bytes');
  const version = bytes.readUInt32LE(8);
  if (version !== FORMAT_VERSION) throw corrupt(`format version ${version}, this build reads ${FORMAT_VERSION}`);
  const headerLength = bytes.readUInt32LE(12);
  if (20 + headerLength > bytes.length) throw corrupt('header runs past the end of the file');
  const header = bytes.subarray(20, 20 + headerLength);
  if (crc32(header) !== bytes.readUInt32LE(16)) throw corrupt('header checksum mismatch');
  let parsed: { meta: M; sections: SectionEntry[]; payloadBytes: number; payloadCrc32: number };
  try {
    parsed = JSON.parse(header.toString('utf8')) as typeof parsed;
  } catch {
    throw corrupt('header is not JSON');
  }
  if (
    !Array.isArray(parsed.sections) ||
    !parsed.sections.every((s) => typeof s.name === 'string' && Number.isSafeInteger(s.length) && s.length >= 0)
  ) {
    throw corrupt('section table is malformed');
  }
  const payload = bytes.subarray(20 + headerLength);
  if (payload.length !== parsed.payloadBytes)
    throw corrupt(`payload holds ${payload.length} bytes, header says ${parsed.payloadBytes}`);
  if (crc32(payload) !== parsed.payloadCrc32) throw corrupt('payload checksum mismatch');
  const sections = new Map<string, Float32Array>();
  let offset = 0;
  for (const { name, length } of parsed.sections) {
    const copy = new Float32Array(length);
    Buffer.from(copy.buffer).set(payload.subarray(offset, offset + length * 4));
    sections.set(name, copy);
    offset += length * 4;
  }
  return { meta: parsed.meta, sections };
}
