import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
