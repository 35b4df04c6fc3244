import { updateEma } from './ema.ts';
import { globalNorm } from './gradient-clip.ts';
import type { OptimizerConfig, OptimizerState, StepOptimizer, UpdateResult } from './optimizer.ts';
import type { LowCommunicationConfig } from './run-config.ts';

/** Where a proposed outer step is written: parameters and momentum. */
interface OuterBuffers {
  readonly params: Float32Array;
  readonly momentum: Float32Array;
}

/**
 * The outer step of the low-communication mode (--sync-every, DiLoCo, Douillard et al. 2023): Nesterov momentum over the
 * averaged outer gradient Δ (the parameters at the start of the step minus the workers' parameters after their inner
 * steps), as torch.optim.SGD(lr, momentum, nesterov = True) computes it with dampening 0 and no weight decay:
 *
 *   b ← μ·b + Δ        θ ← θ − η·(Δ + μ·b)
 *
 * with η = --outer-lr and μ = --outer-momentum, then the EMA of the weights (decay ramp keyed by the outer step count).
 * No clipping (the inner steps clip), no warm-up. Same interface and buffer discipline as {@link Optimizer}, so the step
 * machine proposes it bucket by bucket and adopts it, or commits it in place.
 *
 * Promises: float64 arithmetic per element stored as float32, the same code for propose and commit, so every way of
 * applying a step gives the same bits; a non-finite Δ changes nothing and is reported as skipped.
 * Checkpoints: OptimizerState.adam.m is the momentum b, adam.v is empty and adam.count counts outer steps.
 */
export class OuterOptimizer implements StepOptimizer {
  private current: Float32Array;
  private momentum: Float32Array;
  private count: number;
  readonly ema: Float32Array;
  readonly clipNorm = Number.POSITIVE_INFINITY;
  /** Where {@link propose} writes; swapped with the current buffers by {@link adopt}. Allocated on first use. */
  private proposal: OuterBuffers | undefined;

  constructor(
    params: Float32Array,
    readonly config: OptimizerConfig,
    readonly outer: LowCommunicationConfig,
    state?: OptimizerState,
  ) {
    this.current = (state?.params ?? params).slice();
    this.ema = (state?.ema ?? params).slice();
    const saved = state?.adam.m;
    if (saved !== undefined && saved.length !== this.current.length)
      throw new Error(
        `the checkpoint's outer momentum holds ${saved.length} values but the model has ${this.current.length} parameters; resume with a checkpoint of the same preset.`,
      );
    this.momentum = saved?.slice() ?? new Float32Array(this.current.length);
    this.count = state?.adam.count ?? 0;
  }

  get params(): Float32Array {
    return this.current;
  }

  /** Outer steps applied so far. */
  get updates(): number {
    return this.count;
  }

  apply(delta: Float32Array, step: number): UpdateResult {
    const result = this.plan(delta, step);
    if (!result.skipped) this.commit(delta, result);
    return result;
  }

  /** The outer step's learning rate and Δ's norm (never clipped); skipped when Δ is not finite. */
  plan(delta: Float32Array, _step: number): UpdateResult {
    const gradientNorm = globalNorm(delta);
    const skipped = !Number.isFinite(gradientNorm);
    return { lr: this.outer.outerLr, gradientNorm, clipScale: 1, adamStep: this.count + (skipped ? 0 : 1), skipped };
  }

  /** Applies the planned outer step in place (parameters, momentum, EMA); drops any proposal. */
  commit(delta: Float32Array, plan: UpdateResult): void {
    this.check(plan, 'commit');
    this.step(delta, 0, { params: this.current, momentum: this.momentum });
    this.count += 1;
    updateEma(this.ema, this.current, this.config.emaDecay, this.count - 1);
  }

  /** The outer step for one bucket of Δ starting at `start`, written aside: returns a view of the proposed parameters. */
  propose(bucket: Float32Array, start: number, _step: number): Float32Array {
    if (start < 0 || start + bucket.length > this.current.length)
      throw new RangeError(
        `OuterOptimizer.propose: [${start}, ${start + bucket.length}) is outside the ${this.current.length} parameters.`,
      );
    this.proposal ??= {
      params: new Float32Array(this.current.length),
      momentum: new Float32Array(this.current.length),
    };
    this.step(bucket, start, this.proposal);
    return this.proposal.params.subarray(start, start + bucket.length);
  }

  /** Makes a proposal that covered every element current, then updates the EMA: the same bits as {@link commit}. */
  adopt(plan: UpdateResult): void {
    const proposal = this.proposal;
    if (proposal === undefined) throw new Error('OuterOptimizer.adopt needs a proposal; commit() the update instead.');
    this.check(plan, 'adopt');
    this.proposal = { params: this.current, momentum: this.momentum };
    this.current = proposal.params;
    this.momentum = proposal.momentum;
    this.count += 1;
    updateEma(this.ema, this.current, this.config.emaDecay, this.count - 1);
  }

  state(): OptimizerState {
    const adam = { m: this.momentum.slice(), v: new Float32Array(0), count: this.count };
    return { params: this.current.slice(), ema: this.ema.slice(), adam };
  }

  private check(plan: UpdateResult, what: string): void {
    if (plan.skipped || plan.adamStep !== this.count + 1)
      throw new Error(`OuterOptimizer.${what} needs the plan of the next, non-skipped outer step; call plan() again.`);
  }

  /** b ← μ·b + Δ, θ ← θ − η·(Δ + μ·b) for Δ = `delta` at elements start.., from the current buffers into `out`. */
  private step(delta: Float32Array, start: number, out: OuterBuffers): void {
    const { outerLr: lr, outerMomentum: mu } = this.outer;
    const params = this.current;
    const momentum = this.momentum;
    const outParams = out.params;
    const outMomentum = out.momentum;
    for (let k = 0; k < delta.length; k++) {
      const i = start + k;
      const d = delta[k];
      const b = mu * momentum[i] + d;
      outMomentum[i] = b;
      outParams[i] = params[i] - lr * (d + mu * b);
    }
  }
}
