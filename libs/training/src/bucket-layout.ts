import { bucketStarts } from './gradient-buckets.ts';

/**
 * How the flat parameter (and gradient) buffer of `total` elements is cut into buckets: bucket b covers
 * [starts[b], starts[b + 1]), the last one runs to `total`. The one value every side uses (Welcome.bucket_starts,
 * the coordinator's reduce, the worker's streamed backprop).
 *
 * Promises: a constructed layout is valid: starts begin at 0 and rise strictly below `total` (or are [0] for an empty
 * buffer); {@link range} answers for every bucket and throws a RangeError for anything else.
 * Does not: know tensor boundaries (computeGradient checks that starts fall on them).
 */
export class BucketLayout {
  readonly starts: readonly number[];

  /** Throws an Error naming `source` and the fix when `starts` does not cut `total` elements into buckets. */
  constructor(
    starts: readonly number[],
    readonly total: number,
    source = 'bucket starts',
  ) {
    const problem = BucketLayout.problem(starts, total);
    if (problem !== undefined) {
      const shown = `[${starts.slice(0, 8).join(', ')}${starts.length > 8 ? ', ...' : ''}]`;
      throw new RangeError(
        `${source} ${shown} do not cut ${total} parameters into buckets (${problem}); run the same ddpm version everywhere.`,
      );
    }
    this.starts = [...starts];
  }

  /** The layout of whole tensors grouped from the last one back, at about `capBytes` per bucket (see bucketStarts). */
  static forParameters(parameterSizes: readonly number[], capBytes: number): BucketLayout {
    const total = parameterSizes.reduce((sum, size) => sum + size, 0);
    return new BucketLayout(bucketStarts(parameterSizes, capBytes), total);
  }

  /** One bucket holding everything. */
  static whole(total: number): BucketLayout {
    return new BucketLayout([0], total);
  }

  /** What is wrong with `starts` for `total` elements, or undefined when they form a layout. */
  static problem(starts: readonly number[], total: number): string | undefined {
    if (!Number.isInteger(total) || total < 0) return `the total ${total} is not a non-negative integer`;
    if (starts.length === 0 || starts[0] !== 0) return 'the first start must be 0';
    for (let b = 1; b < starts.length; b++) {
      const start = starts[b];
      if (!Number.isInteger(start) || !(start > starts[b - 1]) || start >= total) {
        return `start ${b} (${start}) must be an integer above ${starts[b - 1]} and below ${total}`;
      }
    }
    return undefined;
  }

  /** Length of the largest bucket. */
  get largest(): number {
    let largest = 0;
    for (let bucket = 0; bucket < this.count; bucket++) largest = Math.max(largest, this.size(bucket));
    return largest;
  }

  /** Number of buckets. */
  get count(): number {
    return this.starts.length;
  }

  /** The element range [start, end) of `bucket`; a RangeError when no such bucket exists. */
  range(bucket: number): { start: number; end: number } {
    const { starts } = this;
    if (!Number.isInteger(bucket) || bucket < 0 || bucket >= starts.length) {
      throw new RangeError(
        `bucket ${bucket} does not exist; the ${starts.length} buckets are 0 to ${starts.length - 1}.`,
      );
    }
    return { start: starts[bucket], end: bucket + 1 < starts.length ? starts[bucket + 1] : this.total };
  }

  /** Number of elements in `bucket`. */
  size(bucket: number): number {
    const { start, end } = this.range(bucket);
    return end - start;
  }
}
