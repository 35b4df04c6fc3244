import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { explainFsError } from './fs-errors.ts';

/** One line of metrics.jsonl: at least step, loss and imgs_per_s; other numeric fields may follow. */
export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly imgs_per_s: number;
  readonly [field: string]: number | string | boolean;
}

/**
 * Appends one JSON object per line to `path` (the run directory's metrics.jsonl), creating the directory.
 * Each append is a single write, so a crash leaves at most one partial last line, which readers should skip.
 */
export class MetricsLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: StepRecord): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    } catch (error) {
      throw explainFsError(error, { path: this.path, doing: 'appending to' });
    }
  }

  /**
   * For a resumed run: keeps only the complete lines whose step is at most `step` (lines written after the checkpoint
   * the run resumes from, and a partial last line, are dropped), atomically (temp file + rename). Returns the number
   * of lines dropped. Does nothing when the file does not exist.
   */
  truncateAfter(step: number): number {
    if (!existsSync(this.path)) return 0;
    const lines = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
    const kept = lines.filter((line) => {
      try {
        const record = JSON.parse(line) as { step?: unknown };
        return typeof record.step === 'number' && record.step <= step;
      } catch {
        return false;
      }
    });
    const temp = join(dirname(this.path), `.${basename(this.path)}.tmp`);
    try {
      writeFileSync(temp, kept.map((line) => `${line}\n`).join(''));
      renameSync(temp, this.path);
    } catch (error) {
      throw explainFsError(error, { path: this.path, doing: 'rewriting' });
    }
    return lines.length - kept.length;
  }
}
