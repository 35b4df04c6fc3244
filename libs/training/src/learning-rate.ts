/**
 * Linear warm-up: lr·min(1, (step+1)/warmup) for the 0-based `step`; constant `lr` afterwards (DDPM's schedule).
 * A warm-up of 0 disables it.
 */
export function learningRateAt(lr: number, warmup: number, step: number): number {
  if (warmup <= 0) return lr;
  return lr * Math.min(1, (step + 1) / warmup);
}
