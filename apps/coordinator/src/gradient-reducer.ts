/**
 * Streams the weighted mean of the workers' gradients for one step: Σ samplesᵢ·gᵢ / Σ samplesᵢ.
 *
 * Promises: memory is one float64 accumulator of the parameter count, whatever the number of workers; each
 * gradient can be released as soon as {@link add} returns. Accumulating in float64 makes the result, rounded to
 * float32, independent of the order in which gradients arrive (in all but vanishingly rare ties), so a
 * restarted run reduces to the same bits.
 * Does not: check finiteness (the coordinator skips non-finite steps before adding).
 */
export class GradientReducer {
  private readonly sum: Float64Array;
  private samples = 0;
  private contributors = 0;

  constructor(readonly size: number) {
    this.sum = new Float64Array(size);
  }

  /** Adds the mean gradient of `samples` samples. Precondition: gradient.length === size, samples >= 1. */
  add(gradient: Float32Array, samples: number): void {
    if (gradient.length !== this.size) throw new Error(`GradientReducer.add: got ${gradient.length} values for ${this.size} parameters.`);
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i] += samples * gradient[i];
    this.samples += samples;
    this.contributors += 1;
  }

  get totalSamples(): number {
    return this.samples;
  }

  get count(): number {
    return this.contributors;
  }

  /** The weighted mean as float32, and resets the accumulator for the next step. Precondition: count > 0. */
  takeMean(): Float32Array {
    if (this.samples === 0) throw new Error('GradientReducer.takeMean: no gradient was added this step.');
    const mean = new Float32Array(this.size);
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
