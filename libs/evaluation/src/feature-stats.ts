/**
 * The first two moments of a set of feature vectors: what a Fréchet distance compares.
 * `covariance` is `dim × dim`, row-major, and unbiased (divided by count - 1, as numpy's `np.cov`).
 */
export interface FeatureStats {
  readonly dim: number;
  readonly count: number;
  readonly mean: Float64Array;
  readonly covariance: Float64Array;
}

/**
 * Mean and unbiased covariance of `count` feature vectors of length `dim`, stored row after row in `features`.
 *
 * Promises: sums in float64 around the mean (two passes), so a large common offset does not cost precision.
 * Preconditions: count >= 2 and features.length === count * dim; throws a RangeError naming the mismatch otherwise.
 */
export function featureStats(features: ArrayLike<number>, count: number, dim: number): FeatureStats {
  if (!Number.isInteger(dim) || dim < 1)
    throw new RangeError(`featureStats: dim must be a positive integer, got ${dim}.`);
  if (!Number.isInteger(count) || count < 2) {
    throw new RangeError(
      `featureStats: needs at least 2 feature vectors for a covariance, got ${count}; draw more images.`,
    );
  }
  if (features.length !== count * dim) {
    throw new RangeError(
      `featureStats: ${features.length} values but count*dim = ${count}*${dim} = ${count * dim}; pass the features row by row.`,
    );
  }
  const mean = new Float64Array(dim);
  for (let n = 0; n < count; n++) for (let i = 0; i < dim; i++) mean[i] += features[n * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < dim; i++) centred[i] = features[n * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) covariance[row + j] += ci * centred[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const value = covariance[i * dim + j] / (count - 1);
      covariance[i * dim + j] = value;
      covariance[j * dim + i] = value;
    }
  }
  return { dim, count, mean, covariance };
}
