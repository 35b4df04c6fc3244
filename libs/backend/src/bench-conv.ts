import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@ddpm/diffusion-core';
import { convFlops, resolveConvGradientGeometry, type ConvGradientGeometry } from './conv-gradient-geometry.ts';
import { convFilterGradient } from './wasm-conv-backprop-filter.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

/** One convolution of the mnist DDPM U-Net, NHWC, 'same' padding. */
export interface ConvBenchCase {
  readonly name: string;
  readonly size: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
}

/** The U-Net's conv shapes (28 -> 14 -> 7 with 32/64 channels). */
export const UNET_CONV_CASES: readonly ConvBenchCase[] = [
  { name: '3x3 28x28 32->32', size: 28, inChannels: 32, outChannels: 32, kernel: 3, stride: 1 },
  { name: '3x3 14x14 64->64', size: 14, inChannels: 64, outChannels: 64, kernel: 3, stride: 1 },
  { name: '3x3 7x7 64->64', size: 7, inChannels: 64, outChannels: 64, kernel: 3, stride: 1 },
  { name: '3x3/2 28x28 32->32', size: 28, inChannels: 32, outChannels: 32, kernel: 3, stride: 2 },
  { name: '3x3/2 14x14 64->64', size: 14, inChannels: 64, outChannels: 64, kernel: 3, stride: 2 },
  { name: '1x1 14x14 64->32', size: 14, inChannels: 64, outChannels: 32, kernel: 1, stride: 1 },
  { name: '3x3 28x28 1->32 (first conv)', size: 28, inChannels: 1, outChannels: 32, kernel: 3, stride: 1 },
  { name: '3x3 28x28 64->32', size: 28, inChannels: 64, outChannels: 32, kernel: 3, stride: 1 },
];

export type ConvBenchOp = 'forward' | 'input-gradient' | 'filter-gradient';
type FixedFilterStrategy = 'conv' | 'matmul' | 'views';

export interface ConvBenchRecord {
  readonly case: string;
  readonly op: ConvBenchOp;
  /** Only for filter gradients measured per strategy on wasm: 'conv', 'matmul' or 'views'; absent = what tf uses. */
  readonly method?: FixedFilterStrategy;
  /** Best wall time over the repeats, milliseconds. */
  readonly ms: number;
  /** Useful FLOPs (2 per multiply-add of the forward conv) per second, in units of 1e9. */
  readonly gflops: number;
}

export interface ConvBenchOptions {
  /** Images per batch; default 32. */
  readonly batch?: number;
  /** Timed runs per measurement (the best is kept, after one untimed warm-up); default 5. */
  readonly repeats?: number;
  /** Subset of UNET_CONV_CASES by name, or custom cases; default all of UNET_CONV_CASES. */
  readonly cases?: readonly ConvBenchCase[];
  /** On wasm, also time the filter gradient with each strategy ('conv', and for stride 1 'matmul' and 'views'); default false. */
  readonly compareFilterStrategies?: boolean;
  /** Seed of the normal input values (they do not affect speed); default 1. */
  readonly seed?: number;
}

/**
 * Times forward convolution, input gradient and filter gradient for the U-Net's conv shapes on the ACTIVE tfjs
 * backend, calling the registered kernels exactly as tf.grads does (Conv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter), and reports milliseconds and GFLOP/s per case and op.
 *
 * Promises: every tensor it creates is disposed; records come in case order, forward / input / filter.
 * Preconditions: a backend is active (see selectBackend); on wasm, installWasmConvGradients() has run, otherwise
 * the filter gradient throws (stock wasm has no Conv2DBackpropFilter).
 * Does not: pick a backend, warm up more than once per measurement, or pin the CPU; on a shared machine take
 * the numbers as lower bounds.
 */
export async function benchConvGradients(options: ConvBenchOptions = {}): Promise<ConvBenchRecord[]> {
  const batch = options.batch ?? 32;
  const repeats = options.repeats ?? 5;
  const records: ConvBenchRecord[] = [];
  const rng = new Rng(options.seed ?? 1);
  for (const c of options.cases ?? UNET_CONV_CASES) {
    const x = rng.normal<tf.Tensor4D>([batch, c.size, c.size, c.inChannels]);
    const filter = rng.normal<tf.Tensor4D>([c.kernel, c.kernel, c.inChannels, c.outChannels]);
    const outSize = Math.ceil(c.size / c.stride);
    const dy = rng.normal<tf.Tensor4D>([batch, outSize, outSize, c.outChannels]);
    const attrs = {
      strides: [c.stride, c.stride],
      pad: 'same',
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap;
    const geometry = resolveConvGradientGeometry('benchConvGradients', attrs, x.shape, filter.shape, dy.shape);
    const flops = convFlops(geometry);
    const measure = async (op: ConvBenchOp, run: () => tf.TensorInfo, method?: FixedFilterStrategy): Promise<void> => {
      const ms = await bestMilliseconds(run, repeats);
      records.push({ case: c.name, op, ...(method === undefined ? {} : { method }), ms, gflops: flops / ms / 1e6 });
    };
    try {
      await measure('forward', () => tf.conv2d(x, filter, c.stride, 'same'));
      await measure(
        'input-gradient',
        () =>
          tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: x.shape }) as tf.Tensor,
      );
      await measure(
        'filter-gradient',
        () =>
          tf
            .engine()
            .runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: filter.shape }) as tf.Tensor,
      );
      if (options.compareFilterStrategies === true && tf.getBackend() === 'wasm') {
        for (const method of ['conv', 'matmul', 'views'] as const) {
          if (method !== 'conv' && c.stride !== 1) continue;
          await measure('filter-gradient', () => filterGradientWith(method, x, dy, geometry), method);
        }
      }
    } finally {
      tf.dispose([x, filter, dy]);
    }
    await tf.nextFrame();
  }
  return records;
}

/** Runs the wasm filter-gradient computation with a fixed strategy, outside the engine; returns a disposable tensor. */
function filterGradientWith(
  method: FixedFilterStrategy,
  x: tf.Tensor,
  dy: tf.Tensor,
  geometry: ConvGradientGeometry,
): tf.TensorInfo {
  const backend = tf.backend() as unknown as DisposingBackend;
  const calls = new WasmKernelCalls(backend);
  try {
    const info = calls.keep(convFilterGradient(calls, x, dy, geometry, method));
    return { dataId: info.dataId, shape: info.shape, dtype: info.dtype };
  } finally {
    calls.disposeIntermediates();
  }
}

async function bestMilliseconds(run: () => tf.TensorInfo, repeats: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i <= repeats; i++) {
    const start = performance.now();
    const result = run();
    // Forces completion on asynchronous backends; webgpu has no synchronous read in Node.
    await tf.backend().read(result.dataId);
    const elapsed = performance.now() - start;
    if (result instanceof tf.Tensor) result.dispose();
    else tf.backend().disposeData(result.dataId);
    if (i > 0) best = Math.min(best, elapsed);
  }
  return best;
}
