// Follows a JSON-lines file that the training loop appends to (OUT/metrics.jsonl, OUT/eval.jsonl) for the run page.
// Runs in the metrics HTTP thread, which must stay responsive: it reads asynchronously, only the bytes added since the
// last call, and at most maxReadBytes per call (a long run's file is caught up over a few polls).
// Plain JavaScript on purpose: the metrics HTTP thread does not have the tsx loader (see metrics-http-thread.mjs).
import { open } from 'node:fs/promises';

const NEWLINE = 0x0a;

/** The JSON objects of `lines`; a line that does not parse (one being written, or damaged) is skipped. */
export function parseJsonLines(lines) {
  const records = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) records.push(value);
    } catch {
      // skipped: a partial or damaged line
    }
  }
  return records;
}

export class JsonlFollower {
  #path;
  #maxReadBytes;
  #offset = 0;
  #partial = Buffer.alloc(0);

  constructor(path, { maxReadBytes = 8 * 1024 * 1024 } = {}) {
    if (!(Number.isInteger(maxReadBytes) && maxReadBytes > 0))
      throw new RangeError(`JsonlFollower: maxReadBytes must be a positive integer, got ${maxReadBytes}.`);
    this.#path = path;
    this.#maxReadBytes = maxReadBytes;
  }

  /**
   * The complete lines appended since the last call, parsed. `reset` is true when the file shrank or disappeared
   * (a resumed run rewrote it): the caller drops what it kept before adding `records`. `exists` is false while the
   * file is missing.
   */
  async read() {
    let handle;
    try {
      handle = await open(this.#path, 'r');
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      return { records: [], reset: this.#restart(), exists: false };
    }
    try {
      const { size } = await handle.stat();
      const reset = size < this.#offset ? this.#restart() : false;
      const length = Math.min(size - this.#offset, this.#maxReadBytes);
      if (length <= 0) return { records: [], reset, exists: true };
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await handle.read(chunk, 0, length, this.#offset);
      this.#offset += bytesRead;
      const bytes = Buffer.concat([this.#partial, chunk.subarray(0, bytesRead)]);
      const end = bytes.lastIndexOf(NEWLINE);
      this.#partial = Buffer.from(bytes.subarray(end + 1));
      const lines = end < 0 ? [] : bytes.toString('utf8', 0, end).split('\n');
      return { records: parseJsonLines(lines), reset, exists: true };
    } finally {
      await handle.close();
    }
  }

  /** Forgets the position; returns whether anything had been read (so the caller must drop its records). */
  #restart() {
    const hadRead = this.#offset > 0;
    this.#offset = 0;
    this.#partial = Buffer.alloc(0);
    return hadRead;
  }
}
