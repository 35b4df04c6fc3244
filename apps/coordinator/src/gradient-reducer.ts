/**
 * Streams the weighted mean of the workers' gradients for one step: Σ samplesᵢ·gᵢ / Σ samplesᵢ.
 *
 * Promises: memory is one float64 accumulator of the parameter count, whatever the number of workers; each
 * gradient can be released as soon as {@link add} returns. Accumulating in float64 makes the result, rounded to
 * float32, independent of the order in which gradients arrive (in all but vanishingly rare ties), so a
 * restarted run reduces to the same bits.
 * Does not: locate non-finite values (countNonFinite does, when {@link add} reports some).
 */
export class GradientReducer {
  private readonly sum: Float64Array;
  /** Where takeMean writes: allocated once, because touching fresh memory costs more than the arithmetic. */
  private readonly mean: Float32Array;
  private samples = 0;
  private contributors = 0;

  constructor(readonly size: number) {
    this.sum = new Float64Array(size);
    this.mean = new Float32Array(size);
  }

  /**
   * Adds the mean gradient of `samples` samples and reports whether every value was finite, checked in the same
   * pass (x·0 is 0 for finite x and NaN otherwise). After a `false` the sum holds NaN or ±Infinity: the caller
   * must skip the step and {@link reset}. Precondition: gradient.length === size, samples >= 1.
   */
  add(gradient: Float32Array, samples: number): boolean {
    if (gradient.length !== this.size) throw new Error(`GradientReducer.add: got ${gradient.length} values for ${this.size} parameters.`);
    const sum = this.sum;
    let probe = 0;
    for (let i = 0; i < sum.length; i++) {
      const value = gradient[i];
      sum[i] += samples * value;
      probe += value * 0;
    }
    this.samples += samples;
    this.contributors += 1;
    return probe === 0;
  }

  get totalSamples(): number {
    return this.samples;
  }

  get count(): number {
    return this.contributors;
  }

  /**
   * The weighted mean as float32, and resets the accumulator for the next step. Precondition: count > 0.
   * The array belongs to the reducer and is overwritten by the next takeMean: use it (the optimizer may clip it in
   * place) before the next step's gradients are reduced, and do not send it.
   */
  takeMean(): Float32Array {
    if (this.samples === 0) throw new Error('GradientReducer.takeMean: no gradient was added this step.');
    const mean = this.mean;
    const inverse = 1 / this.samples;
    for (let i = 0; i < mean.length; i++) mean[i] = this.sum[i] * inverse;
    this.reset();
    return mean;
  }

  reset(): void {
    this.sum.fill(0);
    this.samples = 0;
    this.contributors = 0;
  }
}
