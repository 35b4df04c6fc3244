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
 * The factor clipping multiplies a gradient of global norm `norm` by: maxNorm / (norm + 1e-6) when norm > maxNorm
 * (as torch.nn.utils.clip_grad_norm_ computes it), otherwise exactly 1. Precondition: maxNorm > 0.
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0))
    throw new RangeError(`clipping needs maxNorm > 0, got ${maxNorm}; pass --clip with a positive value.`);
  return Number.isFinite(norm) && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/**
 * Clips a gradient in place to a global norm of at most `maxNorm` (see {@link clipScale}) and returns the norm before
 * clipping. Precondition: maxNorm > 0. Does not: touch a non-finite gradient.
 */
export function clipGlobalNorm(gradient: Float32Array, maxNorm: number): number {
  const norm = globalNorm(gradient);
  const scale = clipScale(norm, maxNorm);
  if (scale !== 1) for (let i = 0; i < gradient.length; i++) gradient[i] *= scale;
  return norm;
}
