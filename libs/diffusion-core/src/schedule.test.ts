import test from 'ava';
import {
  makeSchedule,
  type DiffusionSchedule,
  type ScheduleConfig,
  type ScheduleKind,
  type ScheduleTable,
} from './schedule.ts';

const T = 1000;

/** max_i |a_i − b_i| / |b_i| over the indices in [from, to). */
function maxRelativeError(a: ScheduleTable, b: ArrayLike<number>, from = 0, to = b.length): number {
  let worst = 0;
  for (let i = from; i < to; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return worst;
}

/** ᾱ as exp(Σ log(1 − β)), a different route from a running product. */
function cumprodViaLogs(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let logSum = 0;
  for (let i = 0; i < betas.length; i++) out[i] = Math.exp((logSum += Math.log1p(-betas[i])));
  return out;
}

test('linear: betas and ᾱ agree with an independent float64 reference to 1e-12 relative', (t) => {
  const s = makeSchedule({ kind: 'linear', timesteps: T });
  const a = 1e-4;
  const b = 0.02;
  const betas = Float64Array.from({ length: T }, (_, i) => (a * (T - 1 - i) + b * i) / (T - 1));
  const alphaBar = cumprodViaLogs(betas);
  t.is(s.betas[0], a);
  t.is(s.betas[T - 1], b);
  t.true(maxRelativeError(s.betas, betas) < 1e-12);
  t.true(maxRelativeError(s.alphasCumprod, alphaBar) < 1e-12, `ᾱ error ${maxRelativeError(s.alphasCumprod, alphaBar)}`);
  t.true(maxRelativeError(s.sqrtAlphasCumprod, alphaBar.map(Math.sqrt)) < 1e-12);
  t.true(
    maxRelativeError(
      s.sqrtOneMinusAlphasCumprod,
      alphaBar.map((x) => Math.sqrt(1 - x)),
    ) < 1e-12,
  );
});

test('cosine: ᾱ equals the closed form f(t)/f(0) until the first clipped β, and β <= 0.999 everywhere', (t) => {
  const s = makeSchedule({ kind: 'cosine', timesteps: T });
  const offset = 0.008;
  // cos(((u + s)/(1 + s))·π/2) = sin(((1 − u)/(1 + s))·π/2), which stays accurate where the cosine is tiny.
  const f = (u: number): number => Math.sin(((1 - u) / (1 + offset)) * (Math.PI / 2)) ** 2;
  const closedForm = Float64Array.from({ length: T }, (_, i) => f((i + 1) / T) / f(0));
  t.true(s.betas.every((beta) => beta > 0 && beta <= 0.999));
  const firstClipped = s.betas.findIndex((beta) => beta === 0.999);
  t.is(firstClipped, T - 1, 'with T = 1000 only the last β reaches the cap (f(1) = 0 would make it 1)');
  t.true(
    maxRelativeError(s.alphasCumprod, closedForm, 0, firstClipped) < 1e-12,
    `ᾱ error ${maxRelativeError(s.alphasCumprod, closedForm, 0, firstClipped)}`,
  );
  t.true(
    Math.abs(s.alphasCumprod[T - 1] - closedForm[T - 2] * 0.001) <= 1e-12 * closedForm[T - 2] * 0.001,
    'after clipping ᾱ is the product of 1 − β',
  );
});

test('cosine at small T still caps β and keeps ᾱ the cumulative product of 1 − β', (t) => {
  const s = makeSchedule({ kind: 'cosine', timesteps: 10 });
  t.true(s.betas.every((beta) => beta > 0 && beta <= 0.999));
  t.is(s.betas[9], 0.999);
  t.true(maxRelativeError(s.alphasCumprod, cumprodViaLogs(s.betas)) < 1e-13);
});

const identities = test.macro({
  exec(t, config: ScheduleConfig) {
    const s: DiffusionSchedule = makeSchedule(config);
    const n = config.timesteps;
    t.is(s.kind, config.kind);
    t.is(s.timesteps, n);
    t.true(Object.isFrozen(s));
    const tables = [
      s.betas,
      s.alphas,
      s.alphasCumprod,
      s.alphasCumprodPrev,
      s.sqrtAlphasCumprod,
      s.sqrtOneMinusAlphasCumprod,
      s.sqrtRecipAlphasCumprod,
      s.sqrtRecipm1AlphasCumprod,
      s.posteriorVariance,
      s.posteriorLogVarianceClipped,
      s.posteriorMeanCoef1,
      s.posteriorMeanCoef2,
    ];
    t.true(
      tables.every((table) => table instanceof Float64Array && table.length === n && table.every(Number.isFinite)),
    );
    const failures: string[] = [];
    const near = (name: string, i: number, got: number, want: number, tol = 1e-12): void => {
      if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want))))
        failures.push(`${name}[${i}] = ${got}, want ${want}`);
    };
    t.is(s.alphasCumprodPrev[0], 1);
    for (let i = 0; i < n; i++) {
      const beta = s.betas[i];
      const alpha = s.alphas[i];
      const ab = s.alphasCumprod[i];
      const abPrev = s.alphasCumprodPrev[i];
      near('alphas', i, alpha, 1 - beta, 0);
      if (i > 0) near('alphasCumprodPrev', i, abPrev, s.alphasCumprod[i - 1], 0);
      near('ᾱ_t/ᾱ_{t-1}', i, ab / abPrev, alpha);
      near('sqrt ᾱ² + sqrt(1-ᾱ)²', i, s.sqrtAlphasCumprod[i] ** 2 + s.sqrtOneMinusAlphasCumprod[i] ** 2, 1);
      near('sqrtRecip·sqrtᾱ', i, s.sqrtRecipAlphasCumprod[i] * s.sqrtAlphasCumprod[i], 1);
      near('sqrtRecipm1', i, s.sqrtRecipm1AlphasCumprod[i], s.sqrtOneMinusAlphasCumprod[i] / s.sqrtAlphasCumprod[i]);
      // Bayes: the posterior precision is the sum of the two precisions α_t/β_t and 1/(1 − ᾱ_{t−1}).
      const posteriorVariance = i === 0 ? 0 : 1 / (alpha / beta + 1 / (1 - abPrev));
      near('posteriorVariance', i, s.posteriorVariance[i], posteriorVariance);
      // E[μ̃ | x0] = E[x_{t−1} | x0]:  coef1 + coef2·√ᾱ_t = √ᾱ_{t−1}.
      near(
        'coef1 + coef2·√ᾱ_t',
        i,
        s.posteriorMeanCoef1[i] + s.posteriorMeanCoef2[i] * Math.sqrt(ab),
        Math.sqrt(abPrev),
      );
      // Law of total variance: Var(x_{t−1} | x0) = β̃_t + coef2²·Var(x_t | x0).
      near('β̃ + coef2²(1−ᾱ_t)', i, s.posteriorVariance[i] + s.posteriorMeanCoef2[i] ** 2 * (1 - ab), 1 - abPrev);
      near('exp(log β̃ clipped)', i, Math.exp(s.posteriorLogVarianceClipped[i]), s.posteriorVariance[i === 0 ? 1 : i]);
      if (i > 0 && !(ab < s.alphasCumprod[i - 1])) failures.push(`ᾱ not strictly decreasing at ${i}`);
    }
    t.deepEqual(failures.slice(0, 5), []);
    t.true(Math.abs(s.posteriorMeanCoef1[0] - 1) < 1e-12, 'at t = 0 the posterior is the point mass at x0');
    t.is(s.posteriorMeanCoef2[0], 0);
    t.is(s.posteriorVariance[0], 0);
    if (n === 1000)
      t.true(s.alphasCumprod[n - 1] < 1e-4, `ᾱ_T = ${s.alphasCumprod[n - 1]} should be near 0 so x_T ≈ N(0, I)`);
  },
  title: (_, config: ScheduleConfig) => `table identities hold for ${config.kind} T=${config.timesteps}`,
});

for (const kind of ['linear', 'cosine'] as const) {
  test(identities, { kind, timesteps: 1000 });
  test(identities, { kind, timesteps: 2 });
  test(identities, { kind, timesteps: 37 });
}

test('makeSchedule explains bad timesteps and unknown kinds', (t) => {
  for (const timesteps of [0, 1, -5, 2.5, Number.NaN]) {
    t.throws(() => makeSchedule({ kind: 'linear', timesteps }), {
      instanceOf: RangeError,
      message: /integer timesteps >= 2/,
    });
  }
  t.throws(() => makeSchedule({ kind: 'quadratic' as ScheduleKind, timesteps: 10 }), {
    message: /unknown kind "quadratic".*'linear' or 'cosine'/,
  });
});
