import test from 'ava';
import { Adam } from './adam.ts';
import { emaDecayAt, updateEma } from './ema.ts';
import { clipGlobalNorm, clipScale, globalNorm } from './gradient-clip.ts';
import { learningRateAt } from './learning-rate.ts';
import { DEFAULT_OPTIMIZER, Optimizer } from './optimizer.ts';

test('Adam matches the bias-corrected step-size form of Kingma & Ba (Algorithm 1, final paragraph of section 2)', (t) => {
  // Independent reference: lr_t = lr·√(1−β2^t)/(1−β1^t), θ −= lr_t·m/(√v + ε̂) with ε̂ = ε·√(1−β2^t).
  const lr = 1e-2;
  const adam = new Adam(3);
  const params = Float32Array.of(0.5, -1, 2);
  const ref = [0.5, -1, 2];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  for (let step = 1; step <= 50; step++) {
    const g = ref.map((p, i) => 2 * p + Math.sin(step + i)); // gradient of a moving quadratic
    const gf = Float32Array.from(params, (p, i) => 2 * p + Math.sin(step + i));
    adam.step(params, gf, lr);
    const lrT = (lr * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
    const epsHat = 1e-8 * Math.sqrt(1 - 0.999 ** step);
    for (let i = 0; i < 3; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      ref[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + epsHat);
    }
  }
  for (let i = 0; i < 3; i++) t.true(Math.abs(params[i] - ref[i]) < 1e-5, `param ${i}: ${params[i]} vs ${ref[i]}`);
  t.is(adam.updates, 50);
});

test('Adam first step moves every parameter by lr against the sign of its gradient', (t) => {
  const adam = new Adam(4);
  const params = new Float32Array(4);
  adam.step(params, Float32Array.of(3, -0.001, 7e3, -2), 0.1);
  t.deepEqual(
    Array.from(params, (p) => Math.round(p * 1e4) / 1e4),
    [-0.1, 0.1, -0.1, 0.1],
  );
});

test('Adam rejects state of another size with a fix in the message', (t) => {
  const error = t.throws(() => new Adam(3, undefined, { m: new Float32Array(2), v: new Float32Array(2), count: 1 }));
  t.regex(error.message, /same preset/);
});

test('clipGlobalNorm scales to the max norm and returns the norm before clipping', (t) => {
  const g = Float32Array.of(3, 4);
  t.is(clipGlobalNorm(g, 1), 5);
  t.true(Math.abs(globalNorm(g) - 1) < 1e-5);
  const small = Float32Array.of(0.3, 0.4);
  clipGlobalNorm(small, 1);
  t.deepEqual(Array.from(small), [Math.fround(0.3), Math.fround(0.4)]);
  t.true(Number.isNaN(clipGlobalNorm(Float32Array.of(1, Number.NaN), 1)));
});

test('learning rate warms up linearly and then stays at the peak', (t) => {
  t.is(learningRateAt(1, 4, 0), 0.25);
  t.is(learningRateAt(1, 4, 3), 1);
  t.is(learningRateAt(1, 4, 100), 1);
  t.is(learningRateAt(2e-4, 0, 0), 2e-4);
});

test('EMA decay ramps up to the configured decay, and the average converges to fixed weights', (t) => {
  t.is(emaDecayAt(0.9999, 0), 0.1);
  t.is(emaDecayAt(0.5, 1e6), 0.5);
  const ema = Float32Array.of(0, 0);
  const params = Float32Array.of(1, -2);
  for (let i = 0; i < 2000; i++) updateEma(ema, params, 0.99, i);
  t.true(Math.abs(ema[0] - 1) < 1e-6 && Math.abs(ema[1] + 2) < 1e-6);
});

test('Optimizer skips a non-finite gradient and leaves every buffer untouched', (t) => {
  const opt = new Optimizer(Float32Array.of(1, 2, 3));
  opt.apply(Float32Array.of(0.1, 0.2, 0.3), 0);
  const before = opt.state();
  const result = opt.apply(Float32Array.of(0.1, Number.POSITIVE_INFINITY, 0.3), 1);
  t.true(result.skipped);
  t.deepEqual(opt.state(), before);
  const next = opt.apply(Float32Array.of(0.1, 0.2, 0.3), 1);
  t.false(next.skipped);
  t.notDeepEqual(Array.from(opt.params), Array.from(before.params));
});

test('Optimizer restored from its state continues bitwise identically', (t) => {
  const grads = (k: number): Float32Array => Float32Array.from({ length: 5 }, (_, i) => Math.cos(k * 7 + i));
  const a = new Optimizer(new Float32Array(5), DEFAULT_OPTIMIZER);
  for (let k = 0; k < 3; k++) a.apply(grads(k), k);
  const b = new Optimizer(new Float32Array(5), DEFAULT_OPTIMIZER, a.state());
  for (let k = 3; k < 6; k++) {
    a.apply(grads(k), k);
    b.apply(grads(k), k);
  }
  t.deepEqual(b.state(), a.state());
});

test('proposing every bucket and adopting gives the bits commit gives; a clipped step falls back to commit', (t) => {
  const size = 257;
  const start = Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 0.1);
  const config = { ...DEFAULT_OPTIMIZER, clip: 0.5, warmup: 3 };
  const reference = new Optimizer(start, config);
  const streamed = new Optimizer(start, config);
  const buckets = [0, 100, 101, 200];
  let adopted = 0;
  for (let step = 0; step < 6; step++) {
    // Large gradients on even steps so clipping happens, small ones on odd steps so it does not.
    const gradient = Float32Array.from(
      { length: size },
      (_, i) => Math.cos(i * (step + 1)) * (step % 2 === 0 ? 3 : 1e-3),
    );
    reference.apply(gradient, step);
    for (const [b, from] of buckets.entries())
      streamed.propose(gradient.subarray(from, buckets[b + 1] ?? size), from, step);
    const plan = streamed.plan(gradient, step);
    if (plan.clipScale === 1) {
      streamed.adopt(plan);
      adopted += 1;
    } else {
      streamed.commit(gradient, plan);
    }
    t.deepEqual(streamed.params, reference.params, `params after step ${step}`);
    t.deepEqual(streamed.ema, reference.ema, `EMA after step ${step}`);
  }
  t.is(adopted, 3);
  t.deepEqual(streamed.state().adam, reference.state().adam);
  t.throws(() => streamed.adopt(streamed.plan(new Float32Array(size).fill(1), 6)), {
    message: /commit\(\) the update instead/,
  });
});

test('clipScale is exactly 1 at or under the limit and for a non-finite norm', (t) => {
  t.is(clipScale(0.5, 1), 1);
  t.is(clipScale(1, 1), 1);
  t.is(clipScale(Number.NaN, 1), 1);
  t.true(Math.abs(clipScale(4, 1) - 0.25) < 1e-6);
  t.throws(() => clipScale(1, 0), { message: /--clip/ });
});
