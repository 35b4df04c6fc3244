import { Adam, type AdamOptions, type AdamState } from './adam.ts';

/**
 * The optimizer as a worker's replica runs it (the way every PyTorch DDP rank steps its own optimizer): the
 * coordinator's mean gradient, scaled by the coordinator's clip scale, then Adam with the coordinator's learning rate,
 * applied in place to the replica's parameter buffer.
 *
 * Promises: with the same mean gradient, learning rate and clip scale, and the same starting moments, the parameters
 * are bit-identical to what {@link Optimizer.apply} computes on the coordinator (same float32 scaling, same Adam
 * arithmetic, all in JavaScript).
 * Does not: compute the norm or decide clipping (the coordinator sends the scale), keep an EMA (only the coordinator
 * does), or check for NaN (the coordinator never sends a non-finite mean).
 */
export class ReplicaOptimizer {
  private readonly adam: Adam;

  /** Wraps `params` (updated in place, not copied) and continues from the coordinator's Adam `state`. */
  constructor(readonly params: Float32Array, options: AdamOptions, state: AdamState) {
    this.adam = new Adam(params.length, options, state);
  }

  /**
   * One update: Adam on mean·clipScale (the mean is only read). Returns Adam's update count afterwards, which must
   * equal the coordinator's (Update.adam_step) for the replica to be in step.
   */
  apply(mean: Float32Array, learningRate: number, clipScale: number): number {
    this.adam.step(this.params, mean, learningRate, clipScale);
    return this.adam.updates;
  }

  /** Adam's update count so far. */
  get updates(): number {
    return this.adam.updates;
  }
}
