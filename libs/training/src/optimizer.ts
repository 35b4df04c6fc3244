import { Adam, DEFAULT_ADAM, type AdamOptions, type AdamState } from './adam.ts';
import { updateEma } from './ema.ts';
import { clipScale, globalNorm } from './gradient-clip.ts';
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
  /** What the gradient was multiplied by (1 when it was not clipped): a replica applies the same update with it. */
  readonly clipScale: number;
  /** Adam's update count after this step (the t of its bias correction). */
  readonly adamStep: number;
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

  /** Applies the update of 0-based `step` (clip, Adam, EMA). The gradient buffer is only read. */
  apply(gradient: Float32Array, step: number): UpdateResult {
    const result = this.plan(gradient, step);
    if (!result.skipped) this.commit(gradient, result);
    return result;
  }

  /**
   * What the update of 0-based `step` will be (learning rate, norm, clip scale, Adam count after it, or skipped),
   * without changing anything: a coordinator can tell the workers before it applies the update itself.
   */
  plan(gradient: Float32Array, step: number): UpdateResult {
    const lr = learningRateAt(this.config.lr, this.config.warmup, step);
    const gradientNorm = globalNorm(gradient);
    if (!Number.isFinite(gradientNorm)) return { lr, gradientNorm, clipScale: 1, adamStep: this.adam.updates, skipped: true };
    return { lr, gradientNorm, clipScale: clipScale(gradientNorm, this.config.clip), adamStep: this.adam.updates + 1, skipped: false };
  }

  /**
   * Applies a {@link plan} of this same gradient: clip, Adam, EMA. The gradient is only read, so it may be a buffer
   * that is still being sent. Precondition: the plan is not skipped.
   */
  commit(gradient: Float32Array, plan: UpdateResult): void {
    if (plan.skipped || plan.adamStep !== this.adam.updates + 1) throw new Error('Optimizer.commit needs the plan of the next, non-skipped update; call plan() again.');
    this.adam.step(this.params, gradient, plan.lr, plan.clipScale);
    updateEma(this.ema, this.params, this.config.emaDecay, this.adam.updates - 1);
  }

  /** Adam's moments and update count, without copying: read them before the next {@link apply}. */
  get moments(): AdamState {
    return this.adam.view();
  }

  /** A copy of the state, safe to serialise while training goes on. */
  state(): OptimizerState {
    return { params: this.params.slice(), ema: this.ema.slice(), adam: this.adam.state() };
  }
}
