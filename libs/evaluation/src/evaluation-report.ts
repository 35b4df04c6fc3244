import { classifierScores } from './classifier-scores.ts';
import type { ExtractedFeatures } from './feature-extractor.ts';
import { featureStats, type FeatureStats } from './feature-stats.ts';
import { frechetDistance } from './frechet-distance.ts';

/**
 * What `ddpm eval` prints and what evaluation during training appends to eval.jsonl (with `step`, `seconds`, `time`).
 * `confidence` and `label_entropy` are null when the features come from a model without a softmax (`--features`).
 */
export interface EvaluationReport {
  readonly fd: number;
  readonly fd_floor: number;
  readonly fd_ratio: number;
  readonly count: number;
  readonly confidence: number | null;
  readonly label_entropy: number | null;
}

/** The two disjoint real sets' feature statistics, and the floor between them, computed once per run. */
export interface RealReference {
  readonly a: FeatureStats;
  readonly b: FeatureStats;
  /** FD between the two real sets: what a perfect generator would score at this count. */
  readonly floor: number;
}

/**
 * Splits `available` real images into two disjoint sets of `count` each from a permutation (`order`, e.g.
 * epochPermutation(seed, 0, available)). Preconditions: 2 <= count and 2·count <= available; otherwise throws an error
 * naming the most the data allows.
 */
export function realSetIndices(order: ArrayLike<number>, count: number): { a: number[]; b: number[] } {
  const available = order.length;
  if (!Number.isInteger(count) || count < 2 || 2 * count > available) {
    throw new RangeError(
      `--count ${count}: the real-vs-real floor needs two disjoint sets of ${count} real images, but the data has ` +
        `${available}; pass --count between 2 and ${Math.floor(available / 2)}.`,
    );
  }
  return { a: Array.from(order).slice(0, count), b: Array.from(order).slice(count, 2 * count) };
}

/** Builds the {@link RealReference} from the features of the two real sets. */
export function realReference(a: ExtractedFeatures, b: ExtractedFeatures): RealReference {
  const statsA = featureStats(a.features, a.features.length / a.dim, a.dim);
  const statsB = featureStats(b.features, b.features.length / b.dim, b.dim);
  return { a: statsA, b: statsB, floor: frechetDistance(statsA, statsB) };
}

/**
 * Compares generated images' features with real set A of the reference, and reports the floor (A vs B) and the ratio
 * fd / floor (Infinity when the floor is 0). Preconditions: the generated count equals the reference count (a
 * smaller count inflates the distance, so unequal counts would make the ratio meaningless); throws otherwise.
 */
export function evaluationReport(generated: ExtractedFeatures, reference: RealReference): EvaluationReport {
  const count = generated.features.length / generated.dim;
  if (count !== reference.a.count) {
    throw new RangeError(
      `evaluationReport: ${count} generated images against real sets of ${reference.a.count}; compare equal counts.`,
    );
  }
  const fd = frechetDistance(featureStats(generated.features, count, generated.dim), reference.a);
  const scores =
    generated.probabilities === undefined || generated.classes === undefined
      ? undefined
      : classifierScores(generated.probabilities, count, generated.classes);
  return {
    fd,
    fd_floor: reference.floor,
    fd_ratio: reference.floor > 0 ? fd / reference.floor : Number.POSITIVE_INFINITY,
    count,
    confidence: scores?.confidence ?? null,
    label_entropy: scores?.labelEntropy ?? null,
  };
}
