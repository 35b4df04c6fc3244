import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ddpm/backend';
import { makeSchedule, Rng } from '@ddpm/diffusion-core';
import { UNet, type UNetConfig } from '@ddpm/unet';
import { computeGradient, type GradientOptions, type GradientReads } from './compute-gradient.ts';
import { BucketLayout } from './bucket-layout.ts';
import { drawTrainingInputs } from './sample-draws.ts';

// Small enough for the cpu backend, with dropout on so training mode is exercised.
const CONFIG: UNetConfig = {
  imageSize: 8,
  inChannels: 1,
  outChannels: 1,
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0.3,
  groups: 4,
};
const SEED = 3;
const STEP = 7;

test.before(async () => {
  await selectBackend('cpu');
});

function setup(): { model: UNet; params: Float32Array; images: Float32Array } {
  const model = new UNet(CONFIG);
  // DDPM zero-initialises the last conv of every block: perturb, or dropout would not reach the output.
  const noise = new Rng(4).fillNormal(new Float32Array(model.parameterCount()));
  const params = model.initialParameters(1).map((w, i) => w + 0.05 * noise[i]);
  const images = new Rng(5).fillNormal(new Float32Array(2 * 64)).map((v) => Math.tanh(v));
  return { model, params, images };
}

async function gradientOf(
  model: UNet,
  params: Float32Array,
  images: Float32Array,
  indices: number[],
  dropout = true,
): Promise<Float32Array> {
  const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
  const x0 = tf.tensor4d(images, [indices.length, 8, 8, 1]);
  const drawn = drawTrainingInputs(SEED, STEP, indices, 64, schedule.timesteps);
  const inputs = dropout ? drawn : { t: drawn.t, noise: drawn.noise };
  try {
    return (await computeGradient(model, schedule, params, x0, inputs)).gradient;
  } finally {
    x0.dispose();
  }
}

test.serial(
  "with dropout, the gradient of a batch is the mean of its samples' gradients: a split batch trains the same",
  async (t) => {
    const { model, params, images } = setup();
    const both = await gradientOf(model, params, images, [11, 42]);
    const first = await gradientOf(model, params, images.subarray(0, 64), [11]);
    const second = await gradientOf(model, params, images.subarray(64), [42]);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < both.length; i++) {
      worst = Math.max(worst, Math.abs(both[i] - (first[i] + second[i]) / 2));
      scale = Math.max(scale, Math.abs(both[i]));
    }
    t.true(worst <= 1e-5 * scale, `largest difference ${worst} against a largest gradient of ${scale}`);
    const evaluation = await gradientOf(model, params, images, [11, 42], false);
    t.true(
      evaluation.some((g, i) => Math.abs(g - both[i]) > 1e-4 * scale),
      'the keys switch dropout on',
    );
  },
);

test.serial(
  "the gradient is written into a caller-owned buffer of the model's size, and a wrong size is refused",
  async (t) => {
    const { model, params, images } = setup();
    const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
    const x0 = tf.tensor4d(images.subarray(0, 64), [1, 8, 8, 1]);
    const inputs = drawTrainingInputs(SEED, STEP, [0], 64, schedule.timesteps);
    const into = new Float32Array(params.length);
    const { gradient } = await computeGradient(model, schedule, params, x0, inputs, { into });
    t.is(gradient, into);
    t.true(into.some((g) => g !== 0));
    await t.throwsAsync(computeGradient(model, schedule, params, x0, inputs, { into: new Float32Array(3) }), {
      message: /holds 3 values but the model has/,
    });
    x0.dispose();
  },
);

/** One step's fixed inputs for the streaming tests: two samples, dropout on. */
function streamSetup() {
  const { model, params, images } = setup();
  const schedule = makeSchedule({ kind: 'linear', timesteps: 1000 });
  const x0 = tf.tensor4d(images, [2, 8, 8, 1]);
  const inputs = drawTrainingInputs(SEED, STEP, [11, 42], 64, schedule.timesteps);
  const sizes = model.specs.map((spec) => spec.shape.reduce((product, dim) => product * dim, 1));
  // 4 KiB buckets: about 20 for this 45k-parameter model.
  const layout = BucketLayout.forParameters(sizes, 4096);
  const run = (options: GradientOptions = {}) => computeGradient(model, schedule, params, x0, inputs, options);
  return { model, params, x0, sizes, layout, run };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

const streamsTheSameBits = test.macro({
  async exec(t, reads: GradientReads) {
    const { params, x0, layout, run } = streamSetup();
    const plain = await run({ reads: 'sync' });
    const into = new Float32Array(params.length).fill(Number.NaN);
    const reports: { bucket: number; loss: number; values: Float32Array }[] = [];
    const onBucket = (bucket: number, loss: number): void => {
      const { start, end } = layout.range(bucket);
      reports.push({ bucket, loss, values: into.slice(start, end) });
    };
    const streamed = await run({ into, stream: { layout, onBucket }, reads });
    t.true(sameBits((await run({ reads })).gradient, plain.gradient), 'plain reads of either kind give the same bits');
    t.true(layout.count >= 10, `${layout.count} buckets`);
    t.is(streamed.gradient, into);
    t.true(sameBits(into, plain.gradient), 'the same bits as without a stream');
    t.is(streamed.loss, plain.loss);
    t.deepEqual(
      reports.map((r) => r.bucket).sort((a, b) => a - b),
      layout.starts.map((_, b) => b),
      'every bucket exactly once',
    );
    for (const { bucket, loss, values } of reports) {
      const { start, end } = layout.range(bucket);
      t.true(sameBits(values, into.subarray(start, end)), `bucket ${bucket} was final when reported`);
      t.is(loss, plain.loss, `bucket ${bucket} carries the batch's loss`);
    }
    t.is(reports[0].bucket, layout.count - 1, "the last parameters' bucket is reported first");
    x0.dispose();
  },
  title: (_ = '', reads: GradientReads) =>
    `a streamed gradient (${reads} reads) is bit for bit the plain one; each bucket is reported once, its range already final`,
});

test.serial(streamsTheSameBits, 'sync');
test.serial(streamsTheSameBits, 'async');

test.serial(
  'buckets are reported during backprop: at least 80% of the backward convolutions run after the first report',
  async (t) => {
    const { params, x0, layout, run } = streamSetup();
    const into = new Float32Array(params.length);
    let marked = false;
    // The first report runs a kernel the U-Net never uses (Cosh), marking its place in the profile's kernel sequence.
    const onBucket = (): void => {
      if (marked) return;
      marked = true;
      tf.dispose(tf.cosh(tf.scalar(0)));
    };
    const profile = await tf.profile(async () => {
      await run({ into, stream: { layout, onBucket }, reads: 'sync' });
    });
    const names = profile.kernels.map((kernel) => kernel.name);
    const marker = names.indexOf('Cosh');
    const backward = (list: string[]) =>
      list.filter((name) => name === 'Conv2DBackpropFilter' || name === 'Conv2DBackpropInput').length;
    const total = backward(names);
    const after = backward(names.slice(marker + 1));
    t.true(marker > 0 && total > 0);
    t.true(after >= 0.8 * total, `${after} of ${total} backward convolutions ran after the first report`);
    x0.dispose();
  },
);

const releasesTensors = test.macro({
  async exec(t, reads: GradientReads) {
    const { params, x0, layout, run } = streamSetup();
    const into = new Float32Array(params.length);
    await run({ into, stream: { layout, onBucket: () => undefined }, reads }); // warm up (kernels keep tensors of their own)
    const before = tf.memory().numTensors;
    await run({ into, stream: { layout, onBucket: () => undefined }, reads });
    t.is(tf.memory().numTensors, before, 'after a streamed step');
    const reported: number[] = [];
    const onBucket = (bucket: number): void => {
      reported.push(bucket);
      if (reported.length === 2) throw new Error('socket closed');
    };
    await t.throwsAsync(run({ into, stream: { layout, onBucket }, reads }), { message: 'socket closed' });
    t.is(reported.length, 2, 'no bucket is reported after onBucket threw');
    t.is(tf.memory().numTensors, before, 'after onBucket threw');
    x0.dispose();
  },
  title: (_ = '', reads: GradientReads) =>
    `streaming (${reads} reads) releases every tensor it creates, also when onBucket throws`,
});

test.serial(releasesTensors, 'sync');
test.serial(releasesTensors, 'async');

test.serial('a stream needs `into` and a layout of this model, on parameter tensor boundaries', async (t) => {
  const { params, x0, sizes, layout, run } = streamSetup();
  const into = new Float32Array(params.length);
  const onBucket = (): void => t.fail('no bucket is reported for a refused stream');
  const before = tf.memory().numTensors;
  await t.throwsAsync(run({ stream: { layout, onBucket } }), { message: /options.stream needs options.into/ });
  const inside = sizes[0] + 1; // one element into the second tensor
  t.true(sizes[1] > 1);
  await t.throwsAsync(run({ into, stream: { layout: new BucketLayout([0, inside], params.length), onBucket } }), {
    message: /start 1 \(\d+\) is not where a parameter tensor/,
  });
  await t.throwsAsync(run({ into, stream: { layout: BucketLayout.whole(params.length + 1), onBucket } }), {
    message: /covers \d+ parameters but the model has/,
  });
  t.is(tf.memory().numTensors, before, 'refused before any tensor is made');
  // A single bucket covering everything is a valid stream.
  const single: number[] = [];
  await run({ into, stream: { layout: BucketLayout.whole(params.length), onBucket: (bucket) => single.push(bucket) } });
  t.deepEqual(single, [0]);
  x0.dispose();
});
