import test from 'ava';
import { selectBackend } from '@ddpm/backend';
import { ModelGradients } from '../worker/gradient-source.ts';
import { ScriptedWorker, testEngine } from './engine-harness.ts';
import { GradientReducer } from '../gradient-reducer.ts';

/** The largest |a − b| over the largest |b|: 0 for equal vectors. */
function relativeGap(a: Float32Array, b: Float32Array): number {
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    gap = Math.max(gap, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return gap / scale;
}

/**
 * The reduce is what makes N workers one process: for unequal shards (2 and 5 samples) the coordinator's reduced
 * gradient must be the gradient of the mean loss over all 7 samples, computed by the real model. Adam would hide a
 * wrong scale, so the gradients are compared directly; an unweighted mean of the shards or a sum must not come close.
 */
test.serial('the reduced gradient of unequal shards is the gradient of one batch of all their samples', async (t) => {
  await selectBackend('wasm');
  const { engine, dataset } = testEngine({ minWorkers: 1 });
  const worker = new ScriptedWorker(engine, 'w');
  worker.receive(worker.hello());
  const { replica, start } = worker;
  if (replica === undefined || start === undefined) return t.fail('no Welcome or StepStart');
  const source = new ModelGradients(dataset);
  for (const [step, all] of [
    [0, [0, 1, 2, 3, 4, 5, 6]],
    [5, [11, 3, 29, 7, 18, 2, 25]],
    [17, [4, 9, 26, 13, 1, 21, 8]],
  ] as const) {
    const gradientOf = async (indices: readonly number[]): Promise<Float32Array> => {
      const body = { ...start.body, step, samplesInline: false } as unknown as typeof start.body;
      const job = { ...start, body };
      const timing = { dataMs: 0 };
      const onBucket = (): void => undefined;
      await source.compute({ replica, start: job, indices: Uint32Array.from(indices), onBucket, timing });
      return replica.gradient.slice();
    };
    const whole = await gradientOf(all);
    const [a, b] = [await gradientOf(all.slice(0, 2)), await gradientOf(all.slice(2))];
    const reducer = new GradientReducer(replica.layout);
    for (const [part, samples] of [
      [a, 2],
      [b, 5],
    ] as const) {
      for (let k = 0; k < reducer.buckets; k++) {
        const { start: from, end } = reducer.layout.range(k);
        reducer.add(k, part.subarray(from, end), samples);
      }
    }
    for (let k = 0; k < reducer.buckets; k++) reducer.mean(k);
    const reduced = reducer.takeMean().slice();
    const unweighted = a.map((x, i) => (x + b[i]) / 2);
    const sum = a.map((x, i) => x + b[i]);
    const gaps = [relativeGap(reduced, whole), relativeGap(unweighted, whole), relativeGap(sum, whole)];
    t.log(
      `step ${step}: reduced ${gaps[0].toExponential(2)}, unweighted ${gaps[1].toExponential(2)}, sum ${gaps[2].toExponential(2)}`,
    );
    t.true(gaps[0] <= 1e-4, `step ${step}: the reduced gradient is off by ${gaps[0]} of its scale`);
    t.true(gaps[1] > 100 * Math.max(gaps[0], 1e-6), `step ${step}: an unweighted mean would have passed`);
    t.true(gaps[2] > 100 * Math.max(gaps[0], 1e-6), `step ${step}: a sum would have passed`);
  }
});
