/** The JSON objects of `lines`; a line that does not parse (one being written, or damaged) is skipped. */
export function parseJsonLines(lines: readonly string[]): Record<string, unknown>[];

/** Reads what was appended to a JSON-lines file since the last call (see jsonl-follower.mjs). */
export class JsonlFollower {
  constructor(path: string, options?: { maxReadBytes?: number });
  read(): Promise<{ records: Record<string, unknown>[]; reset: boolean; exists: boolean }>;
}
