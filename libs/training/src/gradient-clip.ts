/**
 * The global L2 norm of a flat gradient, accumulated in float64.
 * Returns NaN or Infinity when the gradient holds a non-finite value, which the caller must treat as a skipped step.
 */
export function globalNorm(gradient: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < gradient.length; i++) sum += gradient[i] * gradient[i];
  return Math.sqrt(sum);
}

/**
 * Clips a gradient in place to a global norm of at most `maxNorm` (as torch.nn.utils.clip_grad_norm_ does),
 * and returns the norm before clipping. Precondition: maxNorm > 0. Does not: touch a non-finite gradient.
 */
export function clipGlobalNorm(gradient: Float32Array, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGlobalNorm needs maxNorm > 0, got ${maxNorm}; pass --clip with a positive value.`);
  const norm = globalNorm(gradient);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (let i = 0; i < gradient.length; i++) gradient[i] *= scale;
  }
  return norm;
}
