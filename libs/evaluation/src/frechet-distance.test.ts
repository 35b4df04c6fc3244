import test from 'ava';
import { Matrix } from 'ml-matrix';
import { Rng } from '@ddpm/diffusion-core';
import { featureStats } from './feature-stats.ts';
import { frechetDistance, frechetDistanceFromMoments, symmetricSquareRoot } from './frechet-distance.ts';

/** `count` vectors of length `dim` from a correlated Gaussian: x = L z with a fixed lower-triangular L. */
function correlatedFeatures(count: number, dim: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const z = new Float32Array(dim);
  const out = new Float64Array(count * dim);
  for (let n = 0; n < count; n++) {
    rng.fillNormal(z);
    for (let i = 0; i < dim; i++) {
      let value = 0;
      for (let j = 0; j <= i; j++) value += z[j] * (1 + ((i + j) % 3)) * 0.4;
      out[n * dim + i] = value;
    }
  }
  return out;
}

test('identical feature sets are at distance 0', (t) => {
  const features = correlatedFeatures(500, 6, 1);
  const stats = featureStats(features, 500, 6);
  t.true(frechetDistance(stats, stats) < 1e-9);
});

test('a set and the same set shifted by δ are at distance |δ|² (same covariance)', (t) => {
  const dim = 5;
  const features = correlatedFeatures(400, dim, 2);
  const shift = [0.5, -1, 2, 0, 0.25];
  const shifted = features.map((value, k) => value + shift[k % dim]);
  const expected = shift.reduce((sum, d) => sum + d * d, 0);
  const distance = frechetDistance(featureStats(features, 400, dim), featureStats(shifted, 400, dim));
  t.true(Math.abs(distance - expected) < 1e-8, `${distance} vs ${expected}`);
});

test('by hand: Σ1 = [[2,1],[1,2]] against I gives 4 - 2√3', (t) => {
  const distance = frechetDistanceFromMoments([0, 0], [2, 1, 1, 2], [0, 0], [1, 0, 0, 1]);
  t.true(Math.abs(distance - (4 - 2 * Math.sqrt(3))) < 1e-12, `${distance}`);
});

test('by hand: non-commuting Σ1 = diag(4,1), Σ2 = [[2,1],[1,2]] and μ apart by (1,1) give 2 + 9 - 2√(10+4√3)', (t) => {
  // Σ1Σ2 = [[8,4],[1,2]]: trace 10, determinant 12, so tr (Σ1Σ2)^½ = √λ1 + √λ2 = √(10 + 2√12).
  const distance = frechetDistanceFromMoments([1, 0], [4, 0, 0, 1], [0, -1], [2, 1, 1, 2]);
  const expected = 2 + 9 - 2 * Math.sqrt(10 + 4 * Math.sqrt(3));
  t.true(Math.abs(distance - expected) < 1e-12, `${distance} vs ${expected}`);
  const swapped = frechetDistanceFromMoments([0, -1], [2, 1, 1, 2], [1, 0], [4, 0, 0, 1]);
  t.true(Math.abs(swapped - expected) < 1e-12, 'symmetric in its arguments');
});

test('1-D Gaussians: (μ1 - μ2)² + (σ1 - σ2)²', (t) => {
  const distance = frechetDistanceFromMoments([3], [4], [1], [9]);
  t.true(Math.abs(distance - (4 + 1)) < 1e-12, `${distance}`);
});

test('samples of two Gaussians approach the closed form as the count grows', (t) => {
  const dim = 3;
  const a = correlatedFeatures(20000, dim, 3);
  const b = correlatedFeatures(20000, dim, 4).map((value, k) => (k % dim === 0 ? value + 1 : value));
  const distance = frechetDistance(featureStats(a, 20000, dim), featureStats(b, 20000, dim));
  t.true(Math.abs(distance - 1) < 0.05, `${distance}`);
});

test('singular covariances (fewer samples than dimensions) still give a finite distance >= 0', (t) => {
  const a = correlatedFeatures(4, 10, 5);
  const distance = frechetDistance(featureStats(a, 4, 10), featureStats(correlatedFeatures(4, 10, 6), 4, 10));
  t.true(Number.isFinite(distance) && distance >= 0);
  t.true(frechetDistance(featureStats(a, 4, 10), featureStats(a, 4, 10)) < 1e-6);
});

test('symmetricSquareRoot squares back to the matrix', (t) => {
  const m = new Matrix([
    [4, 1, 0],
    [1, 3, 1],
    [0, 1, 2],
  ]);
  const root = symmetricSquareRoot(m);
  const back = root.mmul(root);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t.true(Math.abs(back.get(i, j) - m.get(i, j)) < 1e-12);
});

test('featureStats: unbiased covariance, and errors that name the mismatch', (t) => {
  const stats = featureStats([1, 2, 3, 6], 2, 2);
  t.deepEqual(Array.from(stats.mean), [2, 4]);
  t.deepEqual(Array.from(stats.covariance), [2, 4, 4, 8]);
  t.throws(() => featureStats([1, 2, 3], 2, 2), { message: /count\*dim/ });
  t.throws(() => featureStats([1, 2], 1, 2), { message: /at least 2/ });
  t.throws(() => frechetDistance(stats, featureStats([1, 2, 3, 4, 5, 6], 2, 3)), { message: /different sizes/ });
});
