import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { FeatureStats } from './feature-stats.ts';

/**
 * The Fréchet distance between two Gaussians N(μ1, Σ1) and N(μ2, Σ2) fitted to two feature sets
 * (Heusel et al. 2017, the "FID" when the features are Inception's):
 *
 *   d² = |μ1 - μ2|² + tr Σ1 + tr Σ2 - 2 tr (Σ1 Σ2)^½
 *
 * The trace of the square root is computed in its symmetric form, tr (Σ1^½ Σ2 Σ1^½)^½, which has the same
 * eigenvalues as Σ1 Σ2 but is symmetric, so two symmetric eigendecompositions (ml-matrix) suffice and no complex
 * arithmetic appears. Eigenvalues that rounding pushes below zero (singular covariances: fewer samples than
 * dimensions) are taken as 0.
 *
 * Promises: a finite number >= 0 (tiny negative results of rounding are returned as 0); symmetric in its
 * arguments up to rounding. Preconditions: both stats have the same `dim`; throws a RangeError otherwise.
 */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.dim !== b.dim) {
    throw new RangeError(
      `frechetDistance: feature sets of different sizes (${a.dim} and ${b.dim}); extract both with the same model.`,
    );
  }
  return frechetDistanceFromMoments(a.mean, a.covariance, b.mean, b.covariance);
}

/** {@link frechetDistance} on raw moments: means of length d and row-major d×d symmetric covariances. */
export function frechetDistanceFromMoments(
  mean1: ArrayLike<number>,
  covariance1: ArrayLike<number>,
  mean2: ArrayLike<number>,
  covariance2: ArrayLike<number>,
): number {
  const dim = mean1.length;
  if (mean2.length !== dim || covariance1.length !== dim * dim || covariance2.length !== dim * dim) {
    throw new RangeError(
      `frechetDistanceFromMoments: means of length ${dim} and ${mean2.length} with covariances of ` +
        `${covariance1.length} and ${covariance2.length} values; pass two means of length d and two d×d covariances.`,
    );
  }
  let meanTerm = 0;
  for (let i = 0; i < dim; i++) meanTerm += (mean1[i] - mean2[i]) ** 2;
  const sigma1 = toMatrix(covariance1, dim);
  const sigma2 = toMatrix(covariance2, dim);
  const root1 = symmetricSquareRoot(sigma1);
  const product = root1.mmul(sigma2).mmul(root1);
  const crossTrace = eigenvalues(symmetrise(product)).reduce((sum, value) => sum + Math.sqrt(Math.max(value, 0)), 0);
  const distance = meanTerm + sigma1.trace() + sigma2.trace() - 2 * crossTrace;
  return distance > 0 ? distance : 0;
}

function toMatrix(values: ArrayLike<number>, dim: number): Matrix {
  const matrix = new Matrix(dim, dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) matrix.set(i, j, values[i * dim + j]);
  return matrix;
}

/** (M + Mᵀ) / 2 as a new matrix: removes the asymmetry rounding leaves in a product that is symmetric in exact arithmetic. */
function symmetrise(matrix: Matrix): Matrix {
  return matrix.clone().add(matrix.transpose()).div(2);
}

function eigenvalues(matrix: Matrix): number[] {
  return new EigenvalueDecomposition(matrix, { assumeSymmetric: true }).realEigenvalues;
}

/** The symmetric positive semi-definite square root V diag(√λ) Vᵀ of a symmetric matrix (negative λ taken as 0). */
export function symmetricSquareRoot(matrix: Matrix): Matrix {
  const decomposition = new EigenvalueDecomposition(symmetrise(matrix), { assumeSymmetric: true });
  const vectors = decomposition.eigenvectorMatrix;
  const roots = decomposition.realEigenvalues.map((value) => Math.sqrt(Math.max(value, 0)));
  // ml-matrix's arithmetic methods work in place: scale a copy.
  return vectors.clone().mulRowVector(roots).mmul(vectors.transpose());
}
