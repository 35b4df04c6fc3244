import { Adam, DEFAULT_ADAM, type AdamOptions, type AdamState } from './adam.ts';
import { updateEma } from './ema.ts';
import { clipGlobalNorm } from './gradient-clip.ts';
import { learningRateAt } from './learning-rate.ts';

/** Every optimisation hyper-parameter of a run. In a distributed run they are the coordinator's alone. */
export interface OptimizerConfig {
  /** Peak learning rate (DDPM: 2e-4). */
  readonly lr: number;
  /** Linear warm-up length in steps (DDPM: 5000; 0 disables). */
  readonly warmup: number;
  /** Maximum global gradient norm (DDPM: 1.0). */
  readonly clip: number;
  /** EMA decay of the weights (DDPM: 0.9999), see emaDecayAt for the early-run ramp. */
  readonly emaDecay: number;
  readonly adam: AdamOptions;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { lr: 2e-4, warmup: 100, clip: 1.0, emaDecay: 0.9999, adam: DEFAULT_ADAM };

/** What a checkpoint keeps of the optimiser: parameters, Adam moments, EMA and the update count. */
export interface OptimizerState {
  readonly params: Float32Array;
  readonly ema: Float32Array;
  readonly adam: AdamState;
}

/** What one call to {@link Optimizer.apply} did. */
export interface UpdateResult {
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradientNorm: number;
  /** True when the gradient held NaN or Inf: parameters, moments and EMA were left untouched. */
  readonly skipped: boolean;
}

/**
 * The whole update rule of DDPM training on flat float32 buffers: clip to a global norm, warm the learning rate up,
 * Adam, then the EMA of the weights.
 *
 * Promises: pure JavaScript arithmetic, so identical inputs give bitwise-identical parameters on every backend and
 * host; a non-finite gradient changes nothing and is reported as skipped.
 * Does not: average gradients across workers (the coordinator does that before calling apply).
 */
export class Optimizer {
  readonly params: Float32Array;
  readonly ema: Float32Array;
  private readonly adam: Adam;

  constructor(
    params: Float32Array,
    readonly config: OptimizerConfig = DEFAULT_OPTIMIZER,
    state?: OptimizerState,
  ) {
    this.params = (state?.params ?? params).slice();
    this.ema = (state?.ema ?? params).slice();
    this.adam = new Adam(this.params.length, config.adam, state?.adam);
  }

  /** Applies the update of 0-based `step`. The gradient buffer is clipped in place. */
  apply(gradient: Float32Array, step: number): UpdateResult {
    const lr = learningRateAt(this.config.lr, this.config.warmup, step);
    const gradientNorm = clipGlobalNorm(gradient, this.config.clip);
    if (!Number.isFinite(gradientNorm)) return { lr, gradientNorm, skipped: true };
    this.adam.step(this.params, gradient, lr);
    updateEma(this.ema, this.params, this.config.emaDecay, this.adam.updates - 1);
    return { lr, gradientNorm, skipped: false };
  }

  /** A copy of the state, safe to serialise while training goes on. */
  state(): OptimizerState {
    return { params: this.params.slice(), ema: this.ema.slice(), adam: this.adam.state() };
  }
}
