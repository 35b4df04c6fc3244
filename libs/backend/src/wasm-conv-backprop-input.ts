import * as tf from '@tensorflow/tfjs-core';
import { resolveConvGradientGeometry, type ConvGradientGeometry } from './conv-gradient-geometry.ts';
import { WasmKernelCalls, type DisposingBackend } from './wasm-kernel-calls.ts';

/**
 * Input gradient of an NHWC conv2d (dx from dy and the filter), computed as ONE stride-1 XNNPACK convolution:
 * dy (for stride s > 1 first dilated with s-1 zeros between rows and columns) convolved with the filter flipped
 * in both spatial axes and with in/out channels swapped, padded so that the output is exactly the input's size.
 *
 * Derivation (rows; columns alike): dx[h] = sum over (o, i) with s*o + i - padTop = h of dy[o] * w[i]. With
 * dyd[s*o] = dy[o] (zeros elsewhere, length s*(Ho-1)+1) this is the correlation of dyd, padded by
 * kh-1-padTop above and H-len(dyd)+padTop below, with the flipped filter. A negative amount crops instead.
 *
 * Promises: the same result as tfjs's reference Conv2DBackpropInput for NHWC, dilation 1, any positive integer
 * strides and 'same' / 'valid' / numeric / explicit padding (including 1x1 filters and odd sizes such as 7 -> 4).
 * Every intermediate is released before returning.
 * Preconditions: called by the engine as the wasm kernel (`backend` is the wasm backend).
 * Does not: support NCHW or dilations > 1 (throws), or avoid the zeros of the dilated dy (stride-2 input
 * gradients do ~4x the useful multiply-adds, which is cheap next to the stride-1 layers).
 */
export function wasmConv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs;
  const attrs = args.attrs ?? {};
  if (dy === undefined || filter === undefined) throw new Error('Conv2DBackpropInput (wasm, @ddpm/backend) needs inputs dy and filter.');
  const inputShape = attrs['inputShape'];
  if (!Array.isArray(inputShape) || !inputShape.every((v) => typeof v === 'number')) {
    throw new Error(`Conv2DBackpropInput (wasm, @ddpm/backend) needs attribute inputShape [batch, height, width, channels], got ${JSON.stringify(inputShape)}.`);
  }
  const geometry = resolveConvGradientGeometry(tf.Conv2DBackpropInput, attrs, inputShape as number[], filter.shape, dy.shape);
  const calls = new WasmKernelCalls(args.backend as DisposingBackend);
  try {
    return calls.keep(convInputGradient(calls, dy, filter, geometry));
  } finally {
    calls.disposeIntermediates();
  }
}

/** The computation behind {@link wasmConv2DBackpropInput}; every tensor it creates is tracked by `calls`. */
export function convInputGradient(calls: WasmKernelCalls, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGradientGeometry): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const flipped = kh === 1 && kw === 1 ? filter : calls.reverse(filter, [0, 1]);
  const swapped = calls.transpose(flipped, [0, 1, 3, 2]);
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
  const dx = calls.conv2d(x, swapped, padding);
  const expected = [g.batch, g.inHeight, g.inWidth, g.inChannels];
  if (dx.shape.some((size, axis) => size !== expected[axis])) {
    throw new Error(`Conv2DBackpropInput (wasm, @ddpm/backend) produced shape [${dx.shape.join(', ')}] instead of [${expected.join(', ')}]; this is a bug, please report the conv attributes.`);
  }
  return dx;
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
