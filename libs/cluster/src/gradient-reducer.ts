import type { BucketLayout } from '@ddpm/training';

/**
 * Streams the weighted mean of the workers' gradients for one step, bucket by bucket: for each bucket of the flat
 * parameter buffer, Σ samplesᵢ·gᵢ / Σ samplesᵢ over the workers whose part of that bucket was added.
 *
 * Used by the coordinator (every bucket) and, in the sharded topology, by each worker for the buckets it owns.
 * Promises: memory is one float32 buffer of the parameter count plus a float64 accumulator for each bucket that was
 * ever added to, whatever the number of workers; each part can be released as soon as {@link add} returns. Accumulating in float64 makes the result, rounded
 * to float32, independent of the order in which parts arrive (in all but vanishingly rare ties), so a restarted run
 * reduces to the same bits, and independent of how the buffer is cut into buckets.
 * The views {@link mean} returns are sent zero-copy to the workers, so nothing here writes to them again until the
 * same bucket's mean of a later step: by then every worker expected in that step has sent its part of it, which it
 * did after receiving everything the coordinator sent it before (one ordered pipe per worker).
 * Does not: locate non-finite values (countNonFinite does, when {@link add} reports some), or decide when a bucket is
 * complete (the coordinator knows which workers are expected).
 */
export class GradientReducer {
  /** Per bucket, allocated by its first {@link add}: a worker that owns a few buckets keeps only theirs. */
  private readonly sums: (Float64Array | undefined)[];
  /** Bucket means as sent; allocated once, because touching fresh memory costs more than the arithmetic. */
  private readonly means: Float32Array;
  private readonly samples: Float64Array;
  /** 1 for a bucket whose mean was {@link put} this step. */
  private readonly given: Uint8Array;
  readonly size: number;

  constructor(readonly layout: BucketLayout) {
    this.size = layout.total;
    this.sums = new Array<Float64Array | undefined>(layout.count).fill(undefined);
    this.means = new Float32Array(layout.total);
    this.samples = new Float64Array(layout.count);
    this.given = new Uint8Array(layout.count);
  }

  /** Number of buckets. */
  get buckets(): number {
    return this.layout.count;
  }

  /**
   * Adds one worker's part of `bucket` (the mean gradient of `samples` samples) and reports whether every value was
   * finite, checked in the same pass (x·0 is 0 for finite x and NaN otherwise). After a `false` the bucket holds NaN
   * or ±Infinity: the caller must skip the step and {@link reset}. Precondition: part.length is the bucket's length,
   * samples >= 1.
   */
  add(bucket: number, part: Float32Array, samples: number): boolean {
    const { start, end } = this.layout.range(bucket);
    if (part.length !== end - start)
      throw new Error(
        `GradientReducer.add: got ${part.length} values for bucket ${bucket} of ${end - start} parameters.`,
      );
    const sum = (this.sums[bucket] ??= new Float64Array(end - start));
    let probe = 0;
    for (let i = 0; i < part.length; i++) {
      const value = part[i];
      sum[i] += samples * value;
      probe += value * 0;
    }
    this.samples[bucket] += samples;
    return probe === 0;
  }

  /**
   * Takes `bucket`'s mean as formed elsewhere (a ReducedGradient of the sharded topology, over `samples` samples)
   * instead of adding parts: {@link mean} then returns exactly these floats, the same bits that adding them once with
   * weight `samples` would give, without the float64 pass. Reports whether every value was finite. Precondition: no
   * part of `bucket` was added this step.
   */
  put(bucket: number, mean: Float32Array, samples: number): boolean {
    const { start, end } = this.layout.range(bucket);
    if (mean.length !== end - start)
      throw new Error(
        `GradientReducer.put: got ${mean.length} values for bucket ${bucket} of ${end - start} parameters.`,
      );
    this.means.set(mean, start);
    this.given[bucket] = 1;
    this.samples[bucket] = samples;
    let probe = 0;
    for (let i = 0; i < mean.length; i++) probe += mean[i] * 0;
    return probe === 0;
  }

  /** Samples summed into `bucket` so far this step. */
  samplesOf(bucket: number): number {
    return this.samples[bucket];
  }

  /**
   * The weighted mean of `bucket` as float32: a view to send (see the class comment for how long it stays intact).
   * Precondition: samplesOf(bucket) > 0; call once per bucket and step, when no more parts of it will be added.
   */
  mean(bucket: number): Float32Array {
    const { start, end } = this.layout.range(bucket);
    if (this.samples[bucket] === 0)
      throw new Error(`GradientReducer.mean: no gradient was added to bucket ${bucket} this step.`);
    if (this.given[bucket] === 1) return this.means.subarray(start, end);
    const inverse = 1 / this.samples[bucket];
    const means = this.means;
    const sum = this.sums[bucket] as Float64Array;
    for (let i = start; i < end; i++) means[i] = sum[i - start] * inverse;
    return means.subarray(start, end);
  }

  /**
   * The whole mean (every bucket's {@link mean} must have been taken this step), and resets the accumulator for the
   * next step. The array is the buffer the bucket views were sent from: only read it (the optimizer does), and only
   * until the next step's means are taken.
   */
  takeMean(): Float32Array {
    this.reset();
    return this.means;
  }

  reset(): void {
    for (const sum of this.sums) sum?.fill(0);
    this.samples.fill(0);
    this.given.fill(0);
  }
}
