import * as tf from '@tensorflow/tfjs-core';
import { resolveConvGradientGeometry, type ConvGradientGeometry } from './conv-gradient-geometry.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

/**
 * Input gradient of an NHWC conv2d (dx from dy and the filter), computed as ONE stride-1 XNNPACK convolution
 * with the filter flipped in both spatial axes and in/out channels swapped (see {@link InputGradientMethod}):
 * for stride 1 directly on dy; for stride s > 1 either per output phase (the default where the input size is a
 * multiple of the stride) or on dy dilated with s-1 zeros between rows and columns.
 *
 * Derivation (rows; columns alike): dx[h] = sum over (o, i) with s*o + i - padTop = h of dy[o] * w[i]. With
 * dyd[s*o] = dy[o] (zeros elsewhere, length s*(Ho-1)+1) this is the correlation of dyd, padded by
 * kh-1-padTop above and H-len(dyd)+padTop below, with the flipped filter. A negative amount crops instead.
 *
 * Promises: the same result as tfjs's reference Conv2DBackpropInput for NHWC, dilation 1, any positive integer
 * strides and 'same' / 'valid' / numeric / explicit padding (including 1x1 filters and odd sizes such as 7 -> 4).
 * Every intermediate is released before returning.
 * Preconditions: called by the engine as the wasm kernel (`backend` is the wasm backend).
 * Does not: support NCHW or dilations > 1 (throws); on odd sizes (7 -> 4) or filters smaller than the stride it
 * still multiplies the dilation zeros (~s² x the useful work).
 */
export function wasmConv2DBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { dy, filter } = args.inputs;
  const attrs = args.attrs ?? {};
  if (dy === undefined || filter === undefined)
    throw new Error('Conv2DBackpropInput (wasm, @ddpm/backend) needs inputs dy and filter.');
  const inputShape = attrs['inputShape'];
  if (!Array.isArray(inputShape) || !inputShape.every((v) => typeof v === 'number')) {
    throw new Error(
      `Conv2DBackpropInput (wasm, @ddpm/backend) needs attribute inputShape [batch, height, width, channels], got ${JSON.stringify(inputShape)}.`,
    );
  }
  const geometry = resolveConvGradientGeometry(
    tf.Conv2DBackpropInput,
    attrs,
    inputShape as number[],
    filter.shape,
    dy.shape,
  );
  const calls = new WasmKernelCalls(args.backend as DisposingBackend);
  try {
    return calls.keep(convInputGradient(calls, dy, filter, geometry));
  } finally {
    calls.disposeIntermediates();
  }
}

/** The computation behind {@link wasmConv2DBackpropInput}; every tensor it creates is tracked by `calls`. */
export function convInputGradient(
  calls: WasmKernelCalls,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGradientGeometry,
  method: InputGradientMethod = 'auto',
): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw } = g;
  const flipped = kh === 1 && kw === 1 ? filter : calls.flipSpatially(filter);
  const swapped = calls.transpose(flipped, [0, 1, 3, 2]);
  const usePhases = method === 'phases' || (method === 'auto' && phasesApply(g));
  const dx = usePhases ? viaPhases(calls, dy, swapped, g) : viaDilation(calls, dy, swapped, g);
  const expected = [g.batch, g.inHeight, g.inWidth, g.inChannels];
  if (dx.shape.some((size, axis) => size !== expected[axis])) {
    throw new Error(
      `Conv2DBackpropInput (wasm, @ddpm/backend) produced shape [${dx.shape.join(', ')}] instead of [${expected.join(', ')}]; this is a bug, please report the conv attributes.`,
    );
  }
  return dx;
}

/**
 * 'dilation': one stride-1 convolution of the zero-dilated dy (any geometry; ~s² x the useful work).
 * 'phases': for stride s > 1, ONE stride-1 convolution whose output channels are the s*s output phases
 * (h mod s, w mod s) x inChannels, each phase's block holding only the taps that reach it (zero taps pad the
 * phases to a common window), then one 4-D Transpose interleaves the phases into rows and columns. For 3x3
 * stride 2 that is 16 taps per output instead of dilation's 36. Needs H % sh === 0, W % sw === 0 and
 * kh >= sh, kw >= sw (so every phase has taps).
 * 'auto': 'phases' where it applies and the stride is > 1, else 'dilation'.
 */
export type InputGradientMethod = 'auto' | 'dilation' | 'phases';

function phasesApply(g: ConvGradientGeometry): boolean {
  const strided = g.strideHeight > 1 || g.strideWidth > 1;
  return (
    strided &&
    g.inHeight % g.strideHeight === 0 &&
    g.inWidth % g.strideWidth === 0 &&
    g.filterHeight >= g.strideHeight &&
    g.filterWidth >= g.strideWidth
  );
}

/** One phase along one axis: which flipped taps (begin, count, step s) it uses and where they sit in the shared window. */
interface AxisPhase {
  readonly begin: number;
  readonly taps: number;
  /** Rows of dy padding this phase needs before its first output. */
  readonly before: number;
}

/**
 * Derivation (rows; columns alike): with u = h + padTop = s*q + r, dx[h] = sum over j of dy[q - j] * w[r + s*j].
 * For the output phase h = s*q + p (q in [0, H/s)), r = (p + padTop) mod s and q_u = q + floor((p + padTop)/s):
 * a correlation of dy, padded by J-1-shift above, with the J taps w[r + s*(J-1-j')], i.e. the flipped filter
 * sampled with stride s from kh-1-r-s*(J-1).
 */
function axisPhases(s: number, pad: number, k: number): { phases: AxisPhase[]; before: number; window: number } {
  const phases = Array.from({ length: s }, (_, p) => {
    const r = (p + pad) % s;
    const shift = Math.floor((p + pad) / s);
    const taps = Math.ceil((k - r) / s);
    return { begin: k - 1 - r - s * (taps - 1), taps, before: taps - 1 - shift };
  });
  const before = Math.max(...phases.map((phase) => phase.before));
  const window = Math.max(...phases.map((phase) => before - phase.before + phase.taps));
  return { phases, before, window };
}

function viaPhases(
  calls: WasmKernelCalls,
  dy: tf.TensorInfo,
  flippedSwapped: tf.TensorInfo,
  g: ConvGradientGeometry,
): tf.TensorInfo {
  const { strideHeight: sh, strideWidth: sw, batch: b, inChannels: ci, outChannels: co } = g;
  if (!phasesApply(g)) {
    throw new Error(
      `Input-gradient method 'phases' needs stride > 1 dividing the input size and a filter at least as large as the stride, got input ${g.inHeight}x${g.inWidth}, filter ${g.filterHeight}x${g.filterWidth}, strides ${sh}x${sw}; use 'dilation' or 'auto'.`,
    );
  }
  const qh = g.inHeight / sh;
  const qw = g.inWidth / sw;
  const rows = axisPhases(sh, g.padTop, g.filterHeight);
  const cols = axisPhases(sw, g.padLeft, g.filterWidth);
  const blocks: tf.TensorInfo[] = [];
  for (const row of rows.phases) {
    for (const col of cols.phases) {
      const taps = calls.run(
        tf.StridedSlice,
        { x: flippedSwapped },
        {
          begin: [row.begin, col.begin, 0, 0],
          end: [row.begin + sh * (row.taps - 1) + 1, col.begin + sw * (col.taps - 1) + 1, co, ci],
          strides: [sh, sw, 1, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const top = rows.before - row.before;
      const left = cols.before - col.before;
      blocks.push(
        calls.pad(taps, [
          [top, rows.window - top - row.taps],
          [left, cols.window - left - col.taps],
          [0, 0],
          [0, 0],
        ]),
      );
    }
  }
  const filter = calls.concat(blocks, 3); // [windowH, windowW, Co, (ph, pw, Ci)]
  const { x, padding } = calls.cropNegativePadding(dy, {
    top: rows.before,
    bottom: qh + rows.window - 1 - rows.before - g.outHeight,
    left: cols.before,
    right: qw + cols.window - 1 - cols.before - g.outWidth,
  });
  const phased = calls.conv2d(x, filter, padding); // [B, qh, qw, sh*sw*Ci]
  const interleaved = calls.transpose(calls.reshape(phased, [b * qh, qw, sh, sw * ci]), [0, 2, 1, 3]); // [B*qh, sh, qw, sw*Ci]
  return calls.reshape(interleaved, [b, g.inHeight, g.inWidth, ci]);
}

function viaDilation(
  calls: WasmKernelCalls,
  dy: tf.TensorInfo,
  swapped: tf.TensorInfo,
  g: ConvGradientGeometry,
): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const dilated = sh === 1 && sw === 1 ? dy : dilateWithZeros(calls, dy, sh, sw);
  // dilateWithZeros leaves s-1 trailing zero rows/columns: they count as padding already given.
  const dilatedHeight = sh * (g.outHeight - 1) + 1;
  const dilatedWidth = sw * (g.outWidth - 1) + 1;
  const { x, padding } = calls.cropNegativePadding(dilated, {
    top: kh - 1 - g.padTop,
    bottom: g.inHeight - dilatedHeight + g.padTop - (sh - 1),
    left: kw - 1 - g.padLeft,
    right: g.inWidth - dilatedWidth + g.padLeft - (sw - 1),
  });
  return calls.conv2d(x, swapped, padding);
}

/** [B,H,W,C] -> [B, H*sh, W*sw, C] with the original values at multiples of the strides and zeros elsewhere. */
function dilateWithZeros(calls: WasmKernelCalls, x: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  const [b, h, w, c] = x.shape;
  const spread = calls.reshape(x, [b, h, 1, w, 1, c]);
  const padded = calls.pad(spread, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return calls.reshape(padded, [b, h * sh, w * sw, c]);
}
