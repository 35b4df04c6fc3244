import { Adam, DEFAULT_ADAM, type AdamBuffers, type AdamOptions, type AdamState } from './adam.ts';
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

export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  lr: 2e-4,
  warmup: 100,
  clip: 1.0,
  emaDecay: 0.9999,
  adam: DEFAULT_ADAM,
};

/** What a checkpoint keeps of the optimiser: parameters, Adam moments, EMA and the update count. */
export interface OptimizerState {
  readonly params: Float32Array;
  readonly ema: Float32Array;
  readonly adam: AdamState;
}

/**
 * What the coordinator's step machine needs of an optimiser: {@link Optimizer} (Adam, synchronous training) and
 * {@link OuterOptimizer} (the Nesterov outer step of --sync-every) both provide it.
 *
 * The protocol: `propose` bucket by bucket as the mean completes, `plan` once the whole mean is known, then `adopt`
 * the proposal (plan unclipped and every bucket proposed) or `commit` the update in place; `apply` is plan + commit.
 * The EMA follows every applied update.
 */
export interface StepOptimizer {
  /** The current parameters (the buffer may change identity when a proposal is adopted). */
  readonly params: Float32Array;
  readonly ema: Float32Array;
  /** Proposals stop once the buckets' running norm passes this (Infinity: never clipped, always proposed). */
  readonly clipNorm: number;
  propose(bucket: Float32Array, start: number, step: number): Float32Array;
  plan(gradient: Float32Array, step: number): UpdateResult;
  commit(gradient: Float32Array, plan: UpdateResult): void;
  adopt(plan: UpdateResult): void;
  apply(gradient: Float32Array, step: number): UpdateResult;
  /** A copy of the state, safe to serialise while training goes on. */
  state(): OptimizerState;
}

/** What one call to {@link Optimizer.apply} did. */
export interface UpdateResult {
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradientNorm: number;
  /** What the gradient was multiplied by (1 when it was not clipped). */
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
 * Two ways to apply an update: {@link apply} (or {@link plan} then {@link commit}) in place; or, for a coordinator
 * that wants the new parameters before the whole gradient is known, {@link propose} bucket by bucket as the mean
 * gradient completes (computed as if no clipping were needed), then {@link plan} and, when the plan's clip scale is
 * exactly 1, {@link adopt}; otherwise {@link commit} the update in place and drop the proposal.
 *
 * Promises: pure JavaScript arithmetic, so identical inputs give bitwise-identical parameters on every backend and
 * host, whichever way the update is applied; a non-finite gradient changes nothing and is reported as skipped.
 * Does not: average gradients across workers (the coordinator does that before calling apply).
 */
export class Optimizer implements StepOptimizer {
  private current: Float32Array;
  readonly ema: Float32Array;
  private readonly adam: Adam;
  /** Where {@link propose} writes; swapped with the current buffers by {@link adopt}. Allocated on first use. */
  private proposal: AdamBuffers | undefined;

  constructor(
    params: Float32Array,
    readonly config: OptimizerConfig = DEFAULT_OPTIMIZER,
    state?: OptimizerState,
  ) {
    this.current = (state?.params ?? params).slice();
    this.ema = (state?.ema ?? params).slice();
    this.adam = new Adam(this.current.length, config.adam, state?.adam);
  }

  /** The current parameters. The buffer changes identity when a proposal is adopted: do not keep it across updates. */
  get params(): Float32Array {
    return this.current;
  }

  /** --clip: the step machine stops proposing buckets once their norm passes it. */
  get clipNorm(): number {
    return this.config.clip;
  }

  /** Applies the update of 0-based `step` (clip, Adam, EMA). The gradient buffer is only read. */
  apply(gradient: Float32Array, step: number): UpdateResult {
    const result = this.plan(gradient, step);
    if (!result.skipped) this.commit(gradient, result);
    return result;
  }

  /**
   * What the update of 0-based `step` will be (learning rate, norm, clip scale, Adam count after it, or skipped),
   * without changing anything.
   */
  plan(gradient: Float32Array, step: number): UpdateResult {
    const lr = learningRateAt(this.config.lr, this.config.warmup, step);
    const gradientNorm = globalNorm(gradient);
    if (!Number.isFinite(gradientNorm))
      return { lr, gradientNorm, clipScale: 1, adamStep: this.adam.updates, skipped: true };
    return {
      lr,
      gradientNorm,
      clipScale: clipScale(gradientNorm, this.config.clip),
      adamStep: this.adam.updates + 1,
      skipped: false,
    };
  }

  /**
   * Applies a {@link plan} of this same gradient in place: clip, Adam, EMA. The gradient is only read, so it may be a
   * buffer that is still being sent. Drops any proposal. Precondition: the plan is not skipped.
   */
  commit(gradient: Float32Array, plan: UpdateResult): void {
    if (plan.skipped || plan.adamStep !== this.adam.updates + 1)
      throw new Error('Optimizer.commit needs the plan of the next, non-skipped update; call plan() again.');
    this.adam.step(this.current, gradient, plan.lr, plan.clipScale);
    updateEma(this.ema, this.current, this.config.emaDecay, this.adam.updates - 1);
  }

  /**
   * Proposes the update of 0-based `step` for one bucket of the mean gradient, which starts at element `start`, as
   * Adam computes it unclipped: returns a view of the proposed parameters for that range. Nothing current changes.
   * The view stays intact until the same range is proposed again two updates later (the proposal buffers alternate).
   */
  propose(bucket: Float32Array, start: number, step: number): Float32Array {
    this.proposal ??= {
      params: new Float32Array(this.current.length),
      m: new Float32Array(this.current.length),
      v: new Float32Array(this.current.length),
    };
    this.adam.propose(
      this.current,
      bucket,
      start,
      learningRateAt(this.config.lr, this.config.warmup, step),
      this.proposal,
    );
    return this.proposal.params.subarray(start, start + bucket.length);
  }

  /**
   * Makes the proposal current (parameters and moments), then updates the EMA: the same result as {@link commit}
   * when every element was proposed. Precondition: `plan` is this step's, not skipped, with clipScale exactly 1, and
   * the proposal covers every element (the caller proposed every bucket).
   */
  adopt(plan: UpdateResult): void {
    const proposal = this.proposal;
    if (proposal === undefined || plan.skipped || plan.clipScale !== 1 || plan.adamStep !== this.adam.updates + 1) {
      throw new Error(
        'Optimizer.adopt needs a complete proposal and the next, unclipped, non-skipped plan; commit() the update instead.',
      );
    }
    const previous = this.adam.adopt(proposal);
    this.proposal = { params: this.current, ...previous };
    this.current = proposal.params;
    updateEma(this.ema, this.current, this.config.emaDecay, this.adam.updates - 1);
  }

  /** A copy of the state, safe to serialise while training goes on. */
  state(): OptimizerState {
    return { params: this.current.slice(), ema: this.ema.slice(), adam: this.adam.state() };
  }
}
