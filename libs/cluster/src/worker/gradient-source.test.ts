import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { ScriptedWorker, testEngine } from '../coordinator/engine-harness.ts';
import { ModelGradients } from './gradient-source.ts';

/**
 * The real compute resolves only once every bucket was reported, whatever the backend reads with (sync on wasm,
 * `await data()` on webgpu): a worker sends the step's last bucket before it waits for the update.
 */
const reportsEveryBucketBeforeResolving = test.macro({
  async exec(t, backend: BackendRequest) {
    await selectBackend(backend);
    const { engine, dataset } = testEngine({ minWorkers: 1 });
    const worker = new ScriptedWorker(engine, 'w');
    worker.receive(worker.hello());
    const { replica, start } = worker;
    if (replica === undefined || start === undefined) return t.fail('no Welcome or StepStart');
    const reported: number[] = [];
    const indices = Uint32Array.from(start.body.indices);
    const timing = { dataMs: 0 };
    await new ModelGradients(dataset).compute({ replica, start, indices, onBucket: (b) => reported.push(b), timing });
    t.deepEqual(
      [...reported].sort((a, b) => a - b),
      replica.layout.starts.map((_, b) => b),
      'every bucket exactly once, before compute() resolved',
    );
    t.true(replica.gradient.some((g) => g !== 0));
  },
  title: (_ = '', backend: BackendRequest) => `ModelGradients reports every bucket before it resolves (${backend})`,
});

test.serial(reportsEveryBucketBeforeResolving, 'wasm');
test.serial(reportsEveryBucketBeforeResolving, 'webgpu');

test.serial('on webgpu a step over the device buffer limit is refused before anything is allocated', async (t) => {
  await selectBackend('webgpu');
  const { engine, dataset } = testEngine({ minWorkers: 1 });
  const worker = new ScriptedWorker(engine, 'w');
  worker.receive(worker.hello());
  const { replica, start } = worker;
  if (replica === undefined || start === undefined) return t.fail('no Welcome or StepStart');
  const indices = new Uint32Array(20_000); // mnist-tiny's largest activation is ~25 KiB a sample: 20,000 need ~0.5 GiB
  const before = tf.memory().numTensors;
  const job = { replica, start, indices, onBucket: () => t.fail('no bucket'), timing: { dataMs: 0 } };
  await t.throwsAsync(new ModelGradients(dataset).compute(job), {
    instanceOf: RangeError,
    message: /local batch of 20000 needs .* over this WebGPU device's .* use a smaller --batch/,
  });
  t.is(tf.memory().numTensors, before);
});
