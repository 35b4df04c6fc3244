/**
 * Which evaluation runs next, when evaluations are asked for faster than they finish: at most one runs, and of those
 * waiting only the newest is kept (an older one would report on weights training has already moved past).
 * Pure: the caller carries out what it returns.
 */
export class EvalQueue<T> {
  private running: number | undefined;
  private waiting: { step: number; item: T } | undefined;
  /** Steps whose evaluation was dropped for a newer one. */
  readonly dropped: number[] = [];

  /** A new request: 'run' it now, or it 'waits' (replacing, and dropping, an older waiting one). */
  submit(step: number, item: T): 'run' | 'waits' {
    if (this.running === undefined) {
      this.running = step;
      return 'run';
    }
    if (this.waiting !== undefined) this.dropped.push(this.waiting.step);
    this.waiting = { step, item };
    return 'waits';
  }

  /** The running evaluation ended: the waiting one to run next, if any (it is then the running one). */
  finished(): { step: number; item: T } | undefined {
    const next = this.waiting;
    this.waiting = undefined;
    this.running = next?.step;
    return next;
  }

  /** True while an evaluation runs or waits. */
  get busy(): boolean {
    return this.running !== undefined || this.waiting !== undefined;
  }
}

/** One line of OUT/eval.jsonl, in the order the run page reads it. */
export interface EvalLine {
  readonly step: number;
  readonly fd: number;
  readonly fd_floor: number;
  readonly fd_ratio: number;
  readonly count: number;
  readonly confidence: number | null;
  readonly label_entropy: number | null;
  readonly seconds: number;
  readonly time: string;
}

/** Formats one eval.jsonl line (JSON, newline-terminated); a non-finite ratio (floor 0) is written as null. */
export function formatEvalLine(line: EvalLine): string {
  const ordered = {
    step: line.step,
    fd: line.fd,
    fd_floor: line.fd_floor,
    fd_ratio: Number.isFinite(line.fd_ratio) ? line.fd_ratio : null,
    count: line.count,
    confidence: line.confidence,
    label_entropy: line.label_entropy,
    seconds: line.seconds,
    time: line.time,
  };
  return `${JSON.stringify(ordered)}\n`;
}
