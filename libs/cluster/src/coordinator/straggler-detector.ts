/** What {@link StragglerDetector.evaluate} says about one worker. */
export interface StragglerVerdict {
  readonly id: number;
  /** Median of its recent step times, in milliseconds. */
  readonly ms: number;
  /** Median over the other workers of their median step times. */
  readonly othersMs: number;
  /** Whether it is currently flagged as a straggler. */
  readonly straggler: boolean;
  /** True when the flag changed in this evaluation (report it). */
  readonly changed: boolean;
}

interface Track {
  readonly times: number[];
  streak: number;
  flagged: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Tracks each worker's step time (StepStart sent → Gradient received) and flags a worker whose recent median is more
 * than `factor` times the median of the other workers' medians for `patience` evaluations in a row; the flag clears at
 * the first evaluation where it is no longer that slow. Comparing with the others (not with a median that includes the
 * worker itself) makes the rule work from two workers on.
 * Does not: measure time or act on the verdict (the coordinator logs it, sets the metric and may exclude the worker).
 */
export class StragglerDetector {
  private readonly tracks = new Map<number, Track>();

  constructor(
    readonly factor: number,
    readonly window = 5,
    readonly patience = 3,
  ) {
    if (!(factor > 1))
      throw new RangeError(`StragglerDetector: factor must be > 1, got ${factor}; pass e.g. --straggler-factor 2.`);
  }

  record(id: number, ms: number): void {
    let track = this.tracks.get(id);
    if (track === undefined) {
      track = { times: [], streak: 0, flagged: false };
      this.tracks.set(id, track);
    }
    track.times.push(ms);
    if (track.times.length > this.window) track.times.shift();
  }

  /** The median of `id`'s recent step times (ms) and its flag; undefined before its first step (the run page shows it). */
  recent(id: number): { readonly ms: number; readonly flagged: boolean } | undefined {
    const track = this.tracks.get(id);
    return track === undefined || track.times.length === 0
      ? undefined
      : { ms: median(track.times), flagged: track.flagged };
  }

  forget(id: number): void {
    this.tracks.delete(id);
  }

  /** Evaluates the workers `ids` (those that took part in the step just finished); needs at least two with times. */
  evaluate(ids: readonly number[]): StragglerVerdict[] {
    const medians = new Map<number, number>();
    for (const id of ids) {
      const track = this.tracks.get(id);
      if (track !== undefined && track.times.length > 0) medians.set(id, median(track.times));
    }
    if (medians.size < 2) return [];
    const verdicts: StragglerVerdict[] = [];
    for (const [id, ms] of medians) {
      const track = this.tracks.get(id) as Track;
      const othersMs = median([...medians].filter(([other]) => other !== id).map(([, m]) => m));
      const slow = ms > this.factor * othersMs;
      track.streak = slow ? track.streak + 1 : 0;
      const flagged = slow ? track.flagged || track.streak >= this.patience : false;
      verdicts.push({ id, ms, othersMs, straggler: flagged, changed: flagged !== track.flagged });
      track.flagged = flagged;
    }
    return verdicts;
  }
}
