/**
 * Bias-corrected exponential moving average (as in Adam's first moment): after values x1..xn,
 * m_n = beta * m_{n-1} + (1 - beta) * x_n with m_0 = 0, and the smoothed value is m_n / (1 - beta^n).
 * The first value is returned unchanged, so the curve does not start near 0.
 *
 * Does not: fold in non-finite values (NaN/Infinity are ignored, the previous smoothed value is kept).
 */
export class LossSmoother {
  private mean = 0;
  private count = 0;

  /** Precondition: 0 <= beta < 1 (0 means no smoothing). */
  constructor(private readonly beta: number) {
    if (!(beta >= 0 && beta < 1)) {
      throw new Error(`LossSmoother: beta must be in [0, 1), got ${beta}; use e.g. 0.98 for a ~50-step window.`);
    }
  }

  /** Folds in `value` when it is finite and returns the smoothed value (NaN before the first finite value). */
  update(value: number): number {
    if (Number.isFinite(value)) {
      this.count += 1;
      this.mean = this.beta * this.mean + (1 - this.beta) * value;
    }
    return this.value();
  }

  /** The current smoothed value, NaN before the first finite value. */
  value(): number {
    return this.count === 0 ? Number.NaN : this.mean / (1 - this.beta ** this.count);
  }
}
