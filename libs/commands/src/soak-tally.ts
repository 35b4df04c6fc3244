/** One line of a process's pino log, as far as a soak needs it. */
interface LogRecord {
  readonly level: number;
  readonly msg: string;
}

/** pino's numeric levels: 40 is warn, 50 error, 60 fatal. */
const WARN = 40;
const ERROR = 50;

/**
 * What went wrong during a soak, from the processes' logs and exits: errors (log records at level error or fatal,
 * and exits that the soak did not cause) and warnings counted by message, so a report can show the injected kills'
 * consequences (warnings) apart from real failures (errors).
 */
export class SoakTally {
  readonly errors: string[] = [];
  readonly warnings = new Map<string, number>();

  /** Reads one line of `source`'s stderr; lines that are not pino JSON are ignored. */
  logLine(source: string, line: string): void {
    const record = parseRecord(line);
    if (record === undefined) return;
    if (record.level >= ERROR) this.errors.push(`${source}: ${record.msg}`);
    else if (record.level >= WARN) this.warnings.set(record.msg, (this.warnings.get(record.msg) ?? 0) + 1);
  }

  /** A process the soak did not kill has exited; only a clean exit (status 0) is not an error. */
  exited(source: string, code: number | null, signal: string | null): void {
    if (code !== 0) this.errors.push(`${source}: exited with ${code === null ? `signal ${signal}` : `status ${code}`}`);
  }

  /** Warnings by message, most frequent first. */
  warningCounts(): Record<string, number> {
    return Object.fromEntries([...this.warnings].sort((a, b) => b[1] - a[1]));
  }
}

function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as { level?: unknown; msg?: unknown };
    if (typeof value.level !== 'number') return undefined;
    return { level: value.level, msg: typeof value.msg === 'string' ? value.msg : '' };
  } catch {
    return undefined;
  }
}

/** The `p`-th percentiles (0..100, nearest rank) of `values`, in the order asked; NaN for no values. */
export function percentiles(values: readonly number[], ps: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return ps.map((p) =>
    sorted.length === 0
      ? Number.NaN
      : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))],
  );
}

/** The steps at which the soak kills a worker: every `killEvery` steps, before the last step. */
export function killSteps(steps: number, killEvery: number): number[] {
  const at: number[] = [];
  for (let step = killEvery; step < steps; step += killEvery) at.push(step);
  return at;
}
