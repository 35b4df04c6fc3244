import * as tf from '@tensorflow/tfjs-core';

type Args = Array<tf.Tensor | tf.GradSaveFunc>;

/**
 * conv2d(concat(parts, channels), kernel) + bias with 'same' padding and stride 1, for the up path's
 * [h, skip] blocks. Forward: one Concat and one FusedConv2D. Custom gradient: ONE Conv2DBackpropFilter over the
 * saved concatenation (larger, more efficient products than one filter gradient per part), and per part one
 * Conv2DBackpropInput with that part's slice of the kernel's input channels (no slicing of a concatenated input
 * gradient), plus the bias sum.
 *
 * Promises: the value and gradients of the composition, w.r.t. every part, the kernel and the bias.
 * Preconditions: parts are [B, H, W, Ci] with equal B, H, W; kernel is [kh, kw, ΣCi, Co] with odd kh, kw; bias [Co].
 * Not tidied (call inside a tidy). Does not: support strides or other paddings.
 */
export function concatConv2d(parts: readonly tf.Tensor4D[], kernel: tf.Tensor4D, bias: tf.Tensor): tf.Tensor4D {
  const sizes = parts.map((part) => part.shape[3]);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (kernel.shape[2] !== total) {
    throw new RangeError(
      `concatConv2d: the parts have ${total} channels in all but the kernel [${kernel.shape}] expects ${kernel.shape[2]}; pass the kernel of the concatenated input.`,
    );
  }
  const convolve = tf.customGrad((...args: Args) => {
    const inputs = args.slice(0, parts.length) as tf.Tensor4D[];
    const [filter, b] = args.slice(parts.length, parts.length + 2) as [tf.Tensor4D, tf.Tensor];
    const save = args[parts.length + 2] as tf.GradSaveFunc;
    const x = tf.concat(inputs, 3);
    save([x, filter]);
    const value = tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias: b });
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedX, savedFilter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
      const [kh, kw, , co] = savedFilter.shape;
      let offset = 0;
      const partGradients = sizes.map((size) => {
        const slice = tf.slice(savedFilter, [0, 0, offset, 0], [kh, kw, size, co]);
        offset += size;
        return tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropInput, { dy, filter: slice }, {
          ...attrs,
          inputShape: [...savedX.shape.slice(0, 3), size],
        } as unknown as tf.NamedAttrMap);
      });
      const kernelGradient = tf.engine().runKernel<tf.Tensor>(tf.Conv2DBackpropFilter, { x: savedX, dy }, {
        ...attrs,
        filterShape: savedFilter.shape,
      } as unknown as tf.NamedAttrMap);
      return [...partGradients, kernelGradient, tf.sum(dy, [0, 1, 2])];
    };
    return { value, gradFunc };
  });
  return convolve(...parts, kernel, bias) as tf.Tensor4D;
}
