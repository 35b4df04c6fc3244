import * as tf from '@tensorflow/tfjs-core';

/** Everything the conv-gradient kernels need to know about the forward convolution, resolved to plain numbers. */
export interface ConvGradientGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Zero rows the forward convolution added above the input. */
  readonly padTop: number;
  /** Zero columns the forward convolution added left of the input. */
  readonly padLeft: number;
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil';

/**
 * Validates the attributes tfjs passes to Conv2DBackpropInput / Conv2DBackpropFilter (strides, pad, dataFormat,
 * dimRoundingMode, and a `dilations` attribute if a caller adds one) and resolves the forward convolution's
 * geometry exactly as tfjs's own Conv2D does (`backend_util.computeConv2DInfo`), so 'same', 'valid', a number and
 * explicit [[0,0],[t,b],[l,r],[0,0]] padding all mean what they mean in the forward pass.
 *
 * Promises: returns only for NHWC, dilation 1, positive integer strides, rank-4 float32 shapes, and a `dyShape`
 * equal to the forward output shape; anything else throws an Error naming the attribute and how to fix it.
 * Does not: compute anything, or accept NCHW (the wasm Conv2D kernel it builds on is NHWC-only).
 */
export function resolveConvGradientGeometry(
  kernelName: string,
  attrs: tf.NamedAttrMap,
  inputShape: readonly number[],
  filterShape: readonly number[],
  dyShape: readonly number[],
): ConvGradientGeometry {
  const where = `${kernelName} (wasm, @ddpm/backend)`;
  const dataFormat = attrs['dataFormat'] ?? 'NHWC';
  if (dataFormat !== 'NHWC') {
    throw new Error(
      `${where} supports only dataFormat 'NHWC', got '${String(dataFormat)}'. ` +
        `Keep activations as [batch, height, width, channels] (tf.transpose(x, [0, 2, 3, 1]) converts NCHW), ` +
        `or run on the cpu backend.`,
    );
  }
  const dilations = attrs['dilations'];
  if (dilations !== undefined && !pair(dilations, where, 'dilations').every((d) => d === 1)) {
    throw new Error(
      `${where} supports only dilations 1, got ${JSON.stringify(dilations)}. ` +
        `Dilated convolutions have no gradient in tfjs; use dilation 1 (a larger filter or an extra layer gives the same receptive field).`,
    );
  }
  const [strideHeight, strideWidth] = pair(attrs['strides'], where, 'strides');
  const pad = parsePad(attrs['pad'], where);
  const roundingMode = parseRoundingMode(attrs['dimRoundingMode'], where);
  const input = rank4(inputShape, where, 'input');
  const filter = rank4(filterShape, where, 'filter');
  if (typeof pad === 'number' && (filter[0] !== filter[1] || strideHeight !== strideWidth)) {
    // tfjs 4.22 computes the output WIDTH of numeric padding from the filter height and stride height.
    throw new Error(
      `${where}: numeric pad ${pad} with a ${filter[0]}x${filter[1]} filter and strides ${strideHeight}x${strideWidth} is ambiguous ` +
        `(tfjs sizes the output width from the filter height); pass explicit padding [[0,0],[${pad},${pad}],[${pad},${pad}],[0,0]] instead.`,
    );
  }
  rank4(dyShape, where, 'dy');
  const info = tf.backend_util.computeConv2DInfo(
    input,
    filter,
    [strideHeight, strideWidth],
    1,
    pad,
    roundingMode,
    false,
    'channelsLast',
  );
  const expected = info.outShape;
  if (expected.some((size, axis) => size !== dyShape[axis])) {
    throw new Error(
      `${where}: dy has shape [${dyShape.join(', ')}] but a conv of input [${inputShape.join(', ')}] with filter ` +
        `[${filterShape.join(', ')}], strides ${strideHeight}x${strideWidth} and pad ${JSON.stringify(pad)} outputs ` +
        `[${expected.join(', ')}]. Pass the dy that this forward convolution produced.`,
    );
  }
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight,
    strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Useful floating-point operations of one forward convolution (2 per multiply-add); its gradients cost the same. */
export function convFlops(g: ConvGradientGeometry): number {
  return 2 * g.batch * g.outHeight * g.outWidth * g.outChannels * g.filterHeight * g.filterWidth * g.inChannels;
}

function pair(value: tf.NamedAttrMap[string] | undefined, where: string, name: string): [number, number] {
  const values = typeof value === 'number' ? [value, value] : Array.isArray(value) ? value : [];
  const [a, b] = values;
  if (values.length !== 2 || !isPositiveInt(a) || !isPositiveInt(b)) {
    throw new Error(`${where}: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(value)}.`);
  }
  return [a, b];
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

function parsePad(value: tf.NamedAttrMap[string] | undefined, where: string): Pad {
  if (value === 'same' || value === 'valid') return value as 'same' | 'valid';
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (
    Array.isArray(value) &&
    value.length === 4 &&
    value.every(
      (p) =>
        Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0),
    )
  ) {
    const explicit = value as unknown as tf.backend_util.ExplicitPadding;
    if (explicit[0][0] !== 0 || explicit[0][1] !== 0 || explicit[3][0] !== 0 || explicit[3][1] !== 0) {
      throw new Error(
        `${where}: explicit padding may only pad height and width, got ${JSON.stringify(value)}; use [[0,0],[top,bottom],[left,right],[0,0]].`,
      );
    }
    return explicit;
  }
  throw new Error(
    `${where}: pad must be 'same', 'valid', a non-negative integer or [[0,0],[top,bottom],[left,right],[0,0]], got ${JSON.stringify(value)}.`,
  );
}

function parseRoundingMode(value: tf.NamedAttrMap[string] | undefined, where: string): RoundingMode | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'floor' || value === 'round' || value === 'ceil') return value as RoundingMode;
  throw new Error(
    `${where}: dimRoundingMode must be 'floor', 'round' or 'ceil' (or absent), got ${JSON.stringify(value)}.`,
  );
}

function rank4(shape: readonly number[], where: string, name: string): [number, number, number, number] {
  if (shape.length !== 4)
    throw new Error(
      `${where}: ${name} must be rank 4 (NHWC), got shape [${shape.join(', ')}]; reshape a single image to [1, h, w, c].`,
    );
  return [shape[0], shape[1], shape[2], shape[3]];
}
