/** The noise schedules this library knows: DDPM's linear betas and Nichol & Dhariwal's cosine ᾱ. */
export type ScheduleKind = 'linear' | 'cosine';

/** What to build: a schedule kind and the number of diffusion timesteps T. */
export interface ScheduleConfig {
  readonly kind: ScheduleKind;
  readonly timesteps: number;
}

/**
 * A per-timestep table of length T, indexed by the 0-based timestep t ∈ [0, T).
 * Index t corresponds to step t+1 of the DDPM paper (whose steps run 1..T).
 */
export type ScheduleTable = Readonly<Float64Array>;

/**
 * Every float64 table the forward process, the loss and the samplers need.
 * The object is frozen; the tables are typed arrays (which JavaScript cannot freeze), typed read-only: never write into them.
 */
export interface DiffusionSchedule {
  readonly kind: ScheduleKind;
  readonly timesteps: number;
  /** β_t, the variance added at step t. */
  readonly betas: ScheduleTable;
  /** α_t = 1 − β_t. */
  readonly alphas: ScheduleTable;
  /** ᾱ_t = ∏_{s≤t} α_s. */
  readonly alphasCumprod: ScheduleTable;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  readonly alphasCumprodPrev: ScheduleTable;
  /** √ᾱ_t. */
  readonly sqrtAlphasCumprod: ScheduleTable;
  /** √(1 − ᾱ_t). */
  readonly sqrtOneMinusAlphasCumprod: ScheduleTable;
  /** √(1/ᾱ_t): with the next table, x̂_0 = √(1/ᾱ_t)·x_t − √(1/ᾱ_t − 1)·ε. */
  readonly sqrtRecipAlphasCumprod: ScheduleTable;
  /** √(1/ᾱ_t − 1). */
  readonly sqrtRecipm1AlphasCumprod: ScheduleTable;
  /** β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t), the variance of q(x_{t−1} | x_t, x_0). Zero at t = 0. */
  readonly posteriorVariance: ScheduleTable;
  /** log β̃_t with β̃_0 replaced by β̃_1 (so it is finite), as in the DDPM reference code. */
  readonly posteriorLogVarianceClipped: ScheduleTable;
  /** β_t·√ᾱ_{t−1}/(1 − ᾱ_t): the weight of x_0 in the posterior mean. */
  readonly posteriorMeanCoef1: ScheduleTable;
  /** (1 − ᾱ_{t−1})·√α_t/(1 − ᾱ_t): the weight of x_t in the posterior mean. */
  readonly posteriorMeanCoef2: ScheduleTable;
}

/** DDPM's linear schedule endpoints (Ho et al. 2020, section 4). */
export const LINEAR_BETA_START = 1e-4;
export const LINEAR_BETA_END = 0.02;
/** The cosine schedule's offset s and its cap on β (Nichol & Dhariwal 2021, section 3.2). */
export const COSINE_OFFSET = 0.008;
export const COSINE_MAX_BETA = 0.999;

/**
 * Builds a noise schedule and all its derived tables in float64.
 *
 * - `linear`: β rises linearly from 1e-4 to 0.02 (computed like `np.linspace`: β_i = 1e-4 + i·step, last value exactly 0.02).
 *   These endpoints were tuned for T = 1000; with much smaller T, ᾱ_{T−1} stays far from 0 (about e^{−T/100}) and x_T is
 *   then not close to N(0, I). Prefer `cosine` for small T.
 * - `cosine`: f(u) = cos(((u + s)/(1 + s))·π/2)², ᾱ(u) = f(u)/f(0); β_t = min(1 − ᾱ((t+1)/T)/ᾱ(t/T), 0.999), then ᾱ is
 *   recomputed as the cumulative product of 1 − β, so it differs from the closed form only after the first clipped β.
 *
 * Preconditions: `timesteps` is an integer >= 2 (β̃_0 is replaced by β̃_1 in the clipped log variance, so T = 1 has no
 * meaning here); `kind` is 'linear' or 'cosine'.
 * Does not: allocate tensors; callers convert the tables they need (tables are float64, tensors float32).
 */
export function makeSchedule(config: ScheduleConfig): DiffusionSchedule {
  const { kind, timesteps } = config;
  if (!Number.isInteger(timesteps) || timesteps < 2) {
    throw new RangeError(`makeSchedule needs an integer timesteps >= 2, got ${String(timesteps)}; DDPM uses 1000.`);
  }
  let betas: Float64Array;
  if (kind === 'linear') betas = linearBetas(timesteps);
  else if (kind === 'cosine') betas = cosineBetas(timesteps);
  else throw new RangeError(`makeSchedule got unknown kind ${JSON.stringify(kind)}; use 'linear' or 'cosine'.`);
  return Object.freeze({ kind, timesteps, ...derivedTables(betas) });
}

function linearBetas(timesteps: number): Float64Array {
  const betas = new Float64Array(timesteps);
  const step = (LINEAR_BETA_END - LINEAR_BETA_START) / (timesteps - 1);
  for (let i = 0; i < timesteps; i++) betas[i] = LINEAR_BETA_START + i * step;
  betas[timesteps - 1] = LINEAR_BETA_END;
  return betas;
}

function cosineBetas(timesteps: number): Float64Array {
  const f = (u: number): number => Math.cos(((u + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(timesteps);
  for (let i = 0; i < timesteps; i++) {
    betas[i] = Math.min(1 - f((i + 1) / timesteps) / f(i / timesteps), COSINE_MAX_BETA);
  }
  return betas;
}

type Tables = Omit<DiffusionSchedule, 'kind' | 'timesteps'>;

function derivedTables(betas: Float64Array): Tables {
  const n = betas.length;
  const table = (fill: (t: number) => number): Float64Array => {
    const out = new Float64Array(n);
    for (let t = 0; t < n; t++) out[t] = fill(t);
    return out;
  };
  const alphas = table((t) => 1 - betas[t]);
  const alphasCumprod = new Float64Array(n);
  let product = 1;
  for (let t = 0; t < n; t++) alphasCumprod[t] = product *= alphas[t];
  const alphasCumprodPrev = table((t) => (t === 0 ? 1 : alphasCumprod[t - 1]));
  const posteriorVariance = table((t) => (betas[t] * (1 - alphasCumprodPrev[t])) / (1 - alphasCumprod[t]));
  return {
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprod: table((t) => Math.sqrt(alphasCumprod[t])),
    sqrtOneMinusAlphasCumprod: table((t) => Math.sqrt(1 - alphasCumprod[t])),
    sqrtRecipAlphasCumprod: table((t) => Math.sqrt(1 / alphasCumprod[t])),
    sqrtRecipm1AlphasCumprod: table((t) => Math.sqrt(1 / alphasCumprod[t] - 1)),
    posteriorVariance,
    posteriorLogVarianceClipped: table((t) => Math.log(posteriorVariance[t === 0 ? 1 : t])),
    posteriorMeanCoef1: table((t) => (betas[t] * Math.sqrt(alphasCumprodPrev[t])) / (1 - alphasCumprod[t])),
    posteriorMeanCoef2: table((t) => ((1 - alphasCumprodPrev[t]) * Math.sqrt(alphas[t])) / (1 - alphasCumprod[t])),
  };
}
