/** Bytes per element of the flat gradient (float32). */
const BYTES_PER_ELEMENT = 4;

/**
 * Splits the flat float32 parameter (and gradient) buffer into buckets of whole consecutive tensors, so that a
 * worker can send one bucket while backpropagation still computes the others (PyTorch DDP's gradient buckets).
 *
 * The tensors are laid out contiguously in the order of `parameterSizes` (element counts, as UNet.specs and
 * flattenWeights lay them out). Grouping walks from the LAST tensor backwards, because backpropagation produces the
 * last layers' gradients first: tensors join the open bucket until it holds at least `capBytes` (4 bytes per
 * element), which closes it. A tensor that holds `capBytes` or more on its own is not added to an open bucket that
 * already holds values: those smaller tensors join the bucket closed just before (they come right after its tensors
 * in backprop, and it already holds the cap), and the large tensor closes a bucket by itself, so its bucket does not
 * wait for it. Its bucket gains smaller tensors only when they cannot make a bucket of the cap themselves: those
 * squeezed between it and the next large tensor down join it, and when no bucket was closed before it, the model's
 * last tensors share its bucket. That keeps every bucket but the first at the cap or above; the first is what is
 * left when the walk reaches the first tensor. Zero-size tensors are allowed and sit in whichever neighbouring
 * bucket the walk puts them in (they hold no values).
 *
 * Promises: returns the ascending element offsets where buckets start; the first is 0, every offset is a tensor
 * boundary and is below the total size (unless the total is 0: then [0]); bucket b covers
 * [starts[b], starts[b + 1]) and the last bucket runs to the total size (see BucketLayout); every bucket
 * except the first (lowest offsets) holds at least `capBytes`; a tensor of `capBytes` or more ends its bucket
 * unless that is the last bucket; the same inputs give the same starts everywhere.
 * Preconditions: `capBytes` > 0 and finite; every size is a non-negative integer (RangeError otherwise).
 * Does not: split a tensor, cap the bucket count, look at gradient values, or know which order a particular model
 * really produces its gradients in (it assumes roughly reverse parameter order).
 */
export function bucketStarts(parameterSizes: readonly number[], capBytes: number): number[] {
  if (!(capBytes > 0) || !Number.isFinite(capBytes)) {
    throw new RangeError(
      `bucketStarts: capBytes is ${capBytes}; pass a positive, finite number of bytes per bucket, e.g. 25 * 2 ** 20 (PyTorch DDP's default of 25 MiB).`,
    );
  }
  parameterSizes.forEach((size, i) => {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(
        `bucketStarts: parameterSizes[${i}] is ${size}; sizes are element counts (tensor.size), non-negative integers, in the flat buffer's order.`,
      );
    }
  });
  const total = parameterSizes.reduce((sum, size) => sum + size, 0);
  // Starts from the top (highest offsets) down, as the walk closes buckets.
  const closed: number[] = [];
  let offset = total;
  let openBytes = 0;
  for (let i = parameterSizes.length - 1; i >= 0; i--) {
    const bytes = parameterSizes[i] * BYTES_PER_ELEMENT;
    if (bytes >= capBytes && openBytes > 0 && closed.length > 0) {
      // The open tensors join the bucket above (it starts where they start), and the big one stands alone.
      closed[closed.length - 1] = offset;
      openBytes = 0;
    }
    offset -= parameterSizes[i];
    openBytes += bytes;
    if (openBytes >= capBytes) {
      closed.push(offset);
      openBytes = 0;
    }
  }
  if (closed.length === 0 || closed[closed.length - 1] !== 0) closed.push(0);
  return closed.reverse();
}
