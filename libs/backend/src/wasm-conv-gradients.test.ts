import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { parity, prepareBackends, TOLERANCE, type ParityCase } from './gradient-parity.ts';
import { installWasmConvGradients, wasmConvGradientsInstalled } from './install-wasm-conv-gradients.ts';
import { resolveConvGradientGeometry } from './conv-gradient-geometry.ts';
import { convFilterGradient } from './wasm-conv-backprop-filter.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

/** conv2d case: x [n,h,w,ci], filter [k,k,ci,co] (or kh x kw), gradients w.r.t. x and filter. */
function conv(x: number[], filter: number[], strides: number | [number, number], pad: Pad): ParityCase {
  return { shapes: [x, filter], f: (a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad) };
}

test.serial('conv 3x3 stride 1 same, 8->8 channels', parity, conv([2, 12, 12, 8], [3, 3, 8, 8], 1, 'same'), 1);
test.serial(
  'conv 3x3 stride 1 same, 3->16 channels (matmul filter gradient)',
  parity,
  conv([2, 10, 10, 3], [3, 3, 3, 16], 1, 'same'),
  2,
);
test.serial(
  'conv 3x3 stride 1 same, 24->8 channels (views filter gradient)',
  parity,
  conv([2, 9, 9, 24], [3, 3, 24, 8], 1, 'same'),
  3,
);
test.serial(
  'conv 3x3 stride 1 valid (views filter gradient without gaps)',
  parity,
  conv([2, 9, 9, 8], [3, 3, 8, 4], 1, 'valid'),
  25,
);
test.serial(
  'conv 5x3 stride 1, explicit asymmetric padding (views filter gradient with uneven gaps)',
  parity,
  conv([2, 9, 10, 8], [5, 3, 8, 4], 1, [
    [0, 0],
    [1, 3],
    [2, 0],
    [0, 0],
  ]),
  26,
);
test.serial('conv 3x3 stride 2 same, 28x28 -> 14x14', parity, conv([2, 28, 28, 4], [3, 3, 4, 6], 2, 'same'), 4);
test.serial('conv 3x3 stride 2 same, 14x14 -> 7x7', parity, conv([2, 14, 14, 8], [3, 3, 8, 8], 2, 'same'), 5);
test.serial('conv 3x3 stride 2 same, 7x7 -> 4x4', parity, conv([2, 7, 7, 8], [3, 3, 8, 8], 2, 'same'), 6);
test.serial('conv 1x1 (network-in-network projection)', parity, conv([2, 14, 14, 16], [1, 1, 16, 8], 1, 'same'), 7);
test.serial('conv 1x1 stride 2', parity, conv([2, 7, 7, 5], [1, 1, 5, 3], 2, 'same'), 8);
test.serial(
  'conv 3x3 stride 2 valid on odd input (cropped window)',
  parity,
  conv([2, 9, 9, 5], [3, 3, 5, 4], 2, 'valid'),
  9,
);
test.serial(
  'conv 3x3 stride 2, explicit padding 1 (input-gradient phases shifted by the top padding)',
  parity,
  conv([2, 8, 8, 3], [3, 3, 3, 5], 2, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]),
  21,
);
test.serial(
  'conv 4x4 stride 2 same (input-gradient phases with two taps each)',
  parity,
  conv([2, 12, 12, 3], [4, 4, 3, 4], 2, 'same'),
  22,
);
test.serial(
  'conv 3x3 stride 3 same (three input-gradient phases per axis)',
  parity,
  conv([2, 9, 9, 2], [3, 3, 2, 3], 3, 'same'),
  23,
);
test.serial(
  'conv 3x3 stride 2 valid on even input (phases, cropped dy window)',
  parity,
  conv([2, 12, 12, 5], [3, 3, 5, 7], 2, 'valid'),
  24,
);
test.serial(
  'conv 5x3 strides 3x2 explicit asymmetric padding',
  parity,
  conv(
    [2, 9, 10, 5],
    [5, 3, 5, 4],
    [3, 2],
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  ),
  10,
);
test.serial(
  'first conv on the image: filter gradient only',
  parity,
  { ...conv([2, 28, 28, 1], [3, 3, 1, 8], 1, 'same'), wrt: [1] },
  11,
);
test.serial(
  'two stacked convs: input gradient of the second flows into the filter gradient of the first',
  parity,
  {
    shapes: [
      [2, 14, 14, 4],
      [3, 3, 4, 8],
      [3, 3, 8, 6],
    ],
    wrt: [1, 2],
    f: (x, w1, w2) =>
      tf.conv2d(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same'), w2 as tf.Tensor4D, 1, 'same'),
  },
  12,
);

test.serial('every filter-gradient strategy matches the cpu reference kernel', async (t) => {
  await prepareBackends();
  const rng = new Rng(20);
  const xShape = [3, 11, 11, 6];
  const dyShape = [3, 11, 11, 5];
  const xValues = rng.fillNormal(new Float32Array(3 * 11 * 11 * 6));
  const dyValues = rng.fillNormal(new Float32Array(3 * 11 * 11 * 5));
  const attrs: tf.NamedAttrMap = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 6, 5] };

  await tf.setBackend('cpu');
  const cpuX = tf.tensor(xValues, xShape);
  const cpuDy = tf.tensor(dyValues, dyShape);
  const reference = tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x: cpuX, dy: cpuDy }, attrs);
  const expected = await reference.data();
  tf.dispose([cpuX, cpuDy, reference]);

  await tf.setBackend('wasm');
  const x = tf.tensor(xValues, xShape);
  const dy = tf.tensor(dyValues, dyShape);
  const geometry = resolveConvGradientGeometry('test', attrs, xShape, [3, 3, 6, 5], dyShape);
  const backend = tf.backend() as unknown as DisposingBackend;
  const scale = Math.max(...Array.from(expected, Math.abs));
  for (const strategy of ['conv', 'matmul', 'views'] as const) {
    const before = tf.backend().numDataIds();
    const calls = new WasmKernelCalls(backend);
    const result = calls.keep(convFilterGradient(calls, x, dy, geometry, strategy));
    calls.disposeIntermediates();
    const actual = tf.backend().readSync(result.dataId) as Float32Array;
    const error = Math.max(...Array.from(actual, (v, i) => Math.abs(v - expected[i])));
    t.true(error <= TOLERANCE * scale, `${strategy}: max error ${error} vs scale ${scale}`);
    backend.disposeData(result.dataId);
    t.is(tf.backend().numDataIds(), before, `${strategy} leaked intermediates`);
  }
  tf.dispose([x, dy]);
});

test.serial('the engine never computes the input gradient of a conv whose input needs none', async (t) => {
  await prepareBackends();
  await tf.setBackend('wasm');
  const rng = new Rng(30);
  const image = rng.normal([2, 8, 8, 1]);
  const filter = rng.normal([3, 3, 1, 4]);
  const profile = await tf.profile(() =>
    tf.grads((w: tf.Tensor) => tf.sum(tf.conv2d(image as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))([filter]),
  );
  const kernels = profile.kernels.map((k) => k.name);
  t.true(kernels.includes(tf.Conv2DBackpropFilter));
  t.false(kernels.includes(tf.Conv2DBackpropInput), `kernels run: ${kernels.join(', ')}`);
  tf.dispose([image, filter]);
});

const wasmKernelError = test.macro({
  async exec(t, kernelName: string, attrs: tf.NamedAttrMap, message: RegExp) {
    await prepareBackends();
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 6, 6, 2]);
    const filter = tf.zeros([3, 3, 2, 2]);
    const dy = tf.zeros([1, 6, 6, 2]);
    const inputs: tf.NamedTensorMap = kernelName === tf.Conv2DBackpropFilter ? { x, dy } : { dy, filter };
    const shapeAttr: tf.NamedAttrMap =
      kernelName === tf.Conv2DBackpropFilter ? { filterShape: [3, 3, 2, 2] } : { inputShape: [1, 6, 6, 2] };
    const error = t.throws(() =>
      tf
        .engine()
        .runKernel(kernelName, inputs, { strides: 1, pad: 'same', dataFormat: 'NHWC', ...shapeAttr, ...attrs }),
    );
    t.regex(error?.message ?? '', message);
    tf.dispose([x, filter, dy]);
  },
  title: (provided = '', kernelName: string) => `${kernelName} rejects ${provided}`,
});

test.serial(
  'NCHW',
  wasmKernelError,
  tf.Conv2DBackpropFilter,
  { dataFormat: 'NCHW' },
  /supports only dataFormat 'NHWC'.*NCHW/,
);
test.serial('NCHW', wasmKernelError, tf.Conv2DBackpropInput, { dataFormat: 'NCHW' }, /supports only dataFormat 'NHWC'/);
test.serial(
  'dilations 2',
  wasmKernelError,
  tf.Conv2DBackpropFilter,
  { dilations: [2, 2] },
  /supports only dilations 1/,
);
test.serial('dilations 2', wasmKernelError, tf.Conv2DBackpropInput, { dilations: 2 }, /supports only dilations 1/);
test.serial(
  'stride 0',
  wasmKernelError,
  tf.Conv2DBackpropInput,
  { strides: [0, 1] },
  /strides must be a positive integer/,
);
test.serial(
  'a dy of the wrong shape',
  wasmKernelError,
  tf.Conv2DBackpropFilter,
  { strides: 2 },
  /dy has shape \[1, 6, 6, 2\].*outputs \[1, 3, 3, 2\]/,
);
test.serial(
  'ambiguous numeric padding with a non-square stride',
  wasmKernelError,
  tf.Conv2DBackpropInput,
  { pad: 1, strides: [1, 2] },
  /pass explicit padding/,
);

test.serial('installing is idempotent and replaces both kernels', async (t) => {
  await prepareBackends();
  t.true(wasmConvGradientsInstalled());
  t.false(installWasmConvGradients());
  t.true(wasmConvGradientsInstalled());
});
