import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { makeSchedule, Rng } from '@ddpm/diffusion-core';
import { UNet } from '@ddpm/unet';
import { BucketLayout } from './bucket-layout.ts';
import { computeGradient } from './compute-gradient.ts';
import { DEFAULT_OPTIMIZER, Optimizer } from './optimizer.ts';
import { drawTrainingInputs } from './sample-draws.ts';

/**
 * 110 training steps as a worker takes them (batch tensor, streamed gradient, Adam on the flat buffer): tfjs must hold
 * as many tensors and bytes after step 110 as after step 10, or a long run leaks until it dies.
 */
const flatOver100Steps = test.macro({
  async exec(t, backend: BackendRequest) {
    await selectBackend(backend);
    const model = new UNet({
      ...{ imageSize: 8, inChannels: 1, outChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1 },
      ...{ attnResolutions: [4], dropout: 0.1, groups: 4 },
    });
    const schedule = makeSchedule({ kind: 'linear', timesteps: 100 });
    const optimizer = new Optimizer(model.initialParameters(1), DEFAULT_OPTIMIZER);
    const layout = BucketLayout.forParameters(model.parameterSizes(), 4096);
    const into = new Float32Array(model.parameterCount());
    const images = new Rng(2).fillNormal(new Float32Array(4 * 64)).map(Math.tanh);
    const memory: tf.MemoryInfo[] = [];
    let buckets = 0;
    for (let step = 0; step < 110; step++) {
      const x0 = tf.tensor4d(images, [4, 8, 8, 1]);
      const inputs = drawTrainingInputs(5, step, [0, 1, 2, 3], 64, schedule.timesteps);
      const { gradient } = await computeGradient(model, schedule, optimizer.params, x0, inputs, {
        into,
        stream: { layout, onBucket: () => (buckets += 1) },
      });
      x0.dispose();
      optimizer.apply(gradient, step);
      if (step === 9 || step === 109) memory.push(tf.memory());
    }
    t.is(buckets, 110 * layout.count, 'every bucket of every step was reported');
    t.is(memory[1].numTensors, memory[0].numTensors, 'tensors at step 110 vs step 10');
    t.is(memory[1].numBytes, memory[0].numBytes, 'bytes at step 110 vs step 10');
  },
  title: (_ = '', backend: BackendRequest) => `tf.memory() is flat over 100 training steps (${backend})`,
});

test.serial(flatOver100Steps, 'wasm');
test.serial(flatOver100Steps, 'webgpu');
