export { featureStats, type FeatureStats } from './feature-stats.ts';
export { frechetDistance, frechetDistanceFromMoments, symmetricSquareRoot } from './frechet-distance.ts';
