export { Rng, type RngState } from './random.ts';
export { timestepEmbedding } from './timestep-embedding.ts';
