import * as tf from '@tensorflow/tfjs-core';
import { resolveConvGradientGeometry, type ConvGradientGeometry } from './conv-gradient-geometry.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

/**
 * How the filter gradient is computed:
 * - 'conv': one XNNPACK convolution that treats input channels as the batch: x transposed to [Ci,H,W,B] (padded
 *   by the conv itself) convolved with dy transposed to [Ho,Wo,B,Co] as the filter, dilated by the stride, gives
 *   [Ci,kh,kw,Co]. Fast for every layer with a few input channels or more.
 * - 'matmul': im2col along the filter taps: x transposed to [Ci,B,H,W], one Slice per tap, stacked to
 *   [kh*kw*Ci, B*Ho*Wo], times dy as [B*Ho*Wo, Co] through XNNPACK's fully-connected matmul. Fast when
 *   kh*kw*Ci is small (the image-facing first conv, 1x1 projections); stride 1 only.
 * - 'views': stride 1 only; one XNNPACK matmul per filter tap on zero-copy views (see {@link viaViews}): no
 *   im2col, dy packed once for all taps. ~34 GFLOP/s in the matmuls, plus one transpose and two pads.
 * - 'auto': 'matmul' for the image-facing first conv (few input channels), 'views' for other stride-1 convs
 *   with 1x1 or at least 3x3 filters, else 'conv' (chosen by bench-conv measurements: views 10-20% faster at
 *   28x28, equal at 7x7, slower for 2x2 filters).
 */
export type FilterGradientStrategy = 'auto' | 'conv' | 'matmul' | 'views';

const MATMUL_MAX_TAP_CHANNELS = 64;
const VIEWS_MIN_IN_CHANNELS = 8;
/** Below 3x3 (e.g. the 2x2 phase convs of upsampling) the gap rows/columns cost more than views save. */
const VIEWS_MIN_TAPS = 9;

/**
 * Filter gradient of an NHWC conv2d (dW from x and dy), built only from kernels the wasm backend already has.
 *
 * Promises: the same result as tfjs's reference Conv2DBackpropFilter for NHWC, dilation 1, positive integer
 * strides and 'same' / 'valid' / numeric / explicit padding; every intermediate is released before returning.
 * Preconditions: called by the engine as the wasm kernel (`backend` is the wasm backend).
 * Does not: support NCHW or dilations > 1 (throws a message saying what to change).
 */
export function wasmConv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  if (x === undefined || dy === undefined)
    throw new Error('Conv2DBackpropFilter (wasm, @ddpm/backend) needs inputs x and dy.');
  const filterShape = attrs['filterShape'];
  if (!Array.isArray(filterShape) || !filterShape.every((v) => typeof v === 'number')) {
    throw new Error(
      `Conv2DBackpropFilter (wasm, @ddpm/backend) needs attribute filterShape [kh, kw, inChannels, outChannels], got ${JSON.stringify(filterShape)}.`,
    );
  }
  const geometry = resolveConvGradientGeometry(
    tf.Conv2DBackpropFilter,
    attrs,
    x.shape,
    filterShape as number[],
    dy.shape,
  );
  const calls = new WasmKernelCalls(args.backend as DisposingBackend);
  try {
    return calls.keep(convFilterGradient(calls, x, dy, geometry, 'auto'));
  } finally {
    calls.disposeIntermediates();
  }
}

/** The strategy 'auto' picks for this geometry. */
export function chooseFilterGradientStrategy(g: ConvGradientGeometry): 'conv' | 'matmul' | 'views' {
  const strideOne = g.strideHeight === 1 && g.strideWidth === 1;
  if (!strideOne) return 'conv';
  const taps = g.filterHeight * g.filterWidth;
  if (g.inChannels < VIEWS_MIN_IN_CHANNELS && taps * g.inChannels <= MATMUL_MAX_TAP_CHANNELS) return 'matmul';
  return taps === 1 || taps >= VIEWS_MIN_TAPS ? 'views' : 'conv';
}

/** The computation behind {@link wasmConv2DBackpropFilter}; every tensor it creates is tracked by `calls`. */
export function convFilterGradient(
  calls: WasmKernelCalls,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGradientGeometry,
  strategy: FilterGradientStrategy,
): tf.TensorInfo {
  const chosen = strategy === 'auto' ? chooseFilterGradientStrategy(g) : strategy;
  if (chosen !== 'conv' && (g.strideHeight !== 1 || g.strideWidth !== 1)) {
    throw new Error(
      `Filter-gradient strategy '${chosen}' supports stride 1 only, got ${g.strideHeight}x${g.strideWidth}; use 'conv' or 'auto'.`,
    );
  }
  const dw =
    chosen === 'conv'
      ? viaConv(calls, x, dy, g)
      : chosen === 'matmul'
        ? viaMatMul(calls, x, dy, g)
        : viaViews(calls, x, dy, g);
  const expected = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
  if (dw.shape.some((size, axis) => size !== expected[axis])) {
    throw new Error(
      `Conv2DBackpropFilter (wasm, @ddpm/backend) produced shape [${dw.shape.join(', ')}] instead of [${expected.join(', ')}]; this is a bug, please report the conv attributes.`,
    );
  }
  return dw;
}

/**
 * Padding that makes the padded input exactly as large as the windows read: kh + s*(Ho-1) rows starting at
 * -padTop. Can be negative at the bottom/right ('valid' with an odd remainder), meaning crop.
 */
function windowPadding(g: ConvGradientGeometry): { top: number; bottom: number; left: number; right: number } {
  return {
    top: g.padTop,
    bottom: g.filterHeight + g.strideHeight * (g.outHeight - 1) - g.inHeight - g.padTop,
    left: g.padLeft,
    right: g.filterWidth + g.strideWidth * (g.outWidth - 1) - g.inWidth - g.padLeft,
  };
}

function viaConv(calls: WasmKernelCalls, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGradientGeometry): tf.TensorInfo {
  const channelsAsBatch = calls.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, B]
  const dyAsFilter = calls.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Co]
  const { x: input, padding } = calls.cropNegativePadding(channelsAsBatch, windowPadding(g));
  const gradient = calls.conv2d(input, dyAsFilter, padding, [g.strideHeight, g.strideWidth]); // [Ci, kh, kw, Co]
  return calls.transpose(gradient, [1, 2, 0, 3]);
}

function viaMatMul(
  calls: WasmKernelCalls,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGradientGeometry,
): tf.TensorInfo {
  const {
    filterHeight: kh,
    filterWidth: kw,
    inChannels: ci,
    outChannels: co,
    batch: b,
    outHeight: ho,
    outWidth: wo,
  } = g;
  const rows = b * ho * wo;
  const channelsFirst = calls.transpose(x, [3, 0, 1, 2]); // [Ci, B, H, W]
  const padding = windowPadding(g);
  let taps: tf.TensorInfo;
  if (kh === 1 && kw === 1 && padding.top === 0 && padding.bottom === 0 && padding.left === 0 && padding.right === 0) {
    taps = channelsFirst;
  } else {
    const crops = [
      Math.max(0, -padding.top),
      Math.max(0, -padding.bottom),
      Math.max(0, -padding.left),
      Math.max(0, -padding.right),
    ];
    const cropped = crops.every((c) => c === 0)
      ? channelsFirst
      : calls.slice(
          channelsFirst,
          [0, 0, crops[0], crops[2]],
          [ci, b, g.inHeight - crops[0] - crops[1], g.inWidth - crops[2] - crops[3]],
        );
    const padded = calls.pad(cropped, [
      [0, 0],
      [0, 0],
      [Math.max(0, padding.top), Math.max(0, padding.bottom)],
      [Math.max(0, padding.left), Math.max(0, padding.right)],
    ]);
    const slices: tf.TensorInfo[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) slices.push(calls.slice(padded, [0, 0, i, j], [ci, b, ho, wo]));
    taps = slices.length === 1 ? slices[0] : calls.concat(slices, 0); // [kh*kw*Ci, B, Ho, Wo], tap-major
  }
  const product = calls.matMul(calls.reshape(taps, [kh * kw * ci, rows]), calls.reshape(dy, [rows, co]));
  return calls.reshape(product, [kh, kw, ci, co]);
}

/**
 * Stride 1. Lays x out channel-major as [Ci, B, H+gh, W+gw]: each image followed by gh zero rows and each row by
 * gw zero columns, gh = max(padTop, padBottom), gw = max(padLeft, padRight) (zeros shared between neighbours
 * serve as both bottom and top padding), with one zero image before and after as guards; dy is padded to the
 * same [B, H+gh, W+gw] grid (zeros outside Ho x Wo). With q the flat position in that grid, tap (i, j) reads x at
 * q + d, d = (i - padTop)*(W+gw) + (j - padLeft), for every non-zero dy; so dW[i, j] = X_d · dY where X_d is the
 * [Ci, B*(H+gh)*(W+gw)] matrix starting d floats into the channel-major x: a view, no copy. A row of X_d that runs
 * into a neighbouring channel (or a guard) only meets the zero rows and columns of dY, which the gaps guarantee.
 * Every tap's product is written straight into its [Ci, Co] block of the [kh, kw, Ci, Co] result.
 */
function viaViews(calls: WasmKernelCalls, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGradientGeometry): tf.TensorInfo {
  const {
    batch: b,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outChannels: co,
    outHeight: ho,
    outWidth: wo,
    filterHeight: kh,
    filterWidth: kw,
  } = g;
  const padding = windowPadding(g);
  const gapRows = Math.max(padding.top, padding.bottom);
  const gapColumns = Math.max(padding.left, padding.right);
  const rowStride = w + gapColumns;
  const imageSize = (h + gapRows) * rowStride;
  const positions = b * imageSize;
  const channelsFirst = calls.reshape(calls.transpose(x, [3, 0, 1, 2]), [ci * b, h, w]);
  const single = kh === 1 && kw === 1 && padding.top === 0 && padding.left === 0;
  const guard = single ? 0 : imageSize;
  const laidOut = single
    ? channelsFirst
    : calls.pad(channelsFirst, [
        [1, 1],
        [0, gapRows],
        [0, gapColumns],
      ]);
  const gridded =
    ho === h + gapRows && wo === w + gapColumns
      ? dy
      : calls.pad(dy, [
          [0, 0],
          [0, h + gapRows - ho],
          [0, w + gapColumns - wo],
          [0, 0],
        ]);
  const gradient = calls.allocate([kh, kw, ci, co]);
  const dyId = calls.views.view(gridded, 0, positions * co);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const shift = (i - padding.top) * rowStride + (j - padding.left);
      const xId = calls.views.view(laidOut, guard + shift, ci * positions);
      const outId = calls.views.view(gradient, (i * kw + j) * ci * co, ci * co);
      calls.views.matMul(xId, ci, positions, dyId, co, outId);
    }
  }
  return gradient;
}
