/**
 * The decay used at a given update count: min(decay, (1 + count)/(10 + count)), as TensorFlow's
 * ExponentialMovingAverage does with num_updates. Early in a run the average follows the weights closely, so a short
 * run's EMA is already useful; late in a long run the decay is the configured one (DDPM: 0.9999).
 */
export function emaDecayAt(decay: number, count: number): number {
  return Math.min(decay, (1 + count) / (10 + count));
}

/**
 * Updates an exponential moving average of the parameters in place: ema ← d·ema + (1−d)·params, d = emaDecayAt(decay, count).
 * Precondition: both buffers hold the same number of floats; 0 ≤ decay < 1. Arithmetic is float64 per element.
 */
export function updateEma(ema: Float32Array, params: Float32Array, decay: number, count: number): void {
  if (ema.length !== params.length)
    throw new Error(
      `EMA holds ${ema.length} values but the model has ${params.length}; resume with a checkpoint of the same preset.`,
    );
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA decay must be in [0, 1), got ${decay}; DDPM uses 0.9999.`);
  const d = emaDecayAt(decay, count);
  for (let i = 0; i < ema.length; i++) ema[i] = d * ema[i] + (1 - d) * params[i];
}
