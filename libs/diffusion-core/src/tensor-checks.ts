import * as tf from '@tensorflow/tfjs-core';

// Shape and dtype checks shared by the forward process, the loss and the samplers (internal: not exported by index.ts).

/** Throws unless `x` is rank 4 and `t` is a rank-1 int32 tensor with one timestep per sample of `x`. */
export function checkBatch(caller: string, x: tf.Tensor, t: tf.Tensor): void {
  if (x.rank !== 4) {
    throw new Error(
      `${caller} needs images of rank 4 [batch, height, width, channels], got shape [${x.shape.join(', ')}]; reshape your batch.`,
    );
  }
  if (t.rank !== 1 || t.shape[0] !== x.shape[0]) {
    throw new Error(
      `${caller} needs one timestep per sample: t must have shape [${x.shape[0]}], got [${t.shape.join(', ')}]; pass a rank-1 tensor of length batch.`,
    );
  }
  if (t.dtype !== 'int32') {
    throw new Error(`${caller} needs int32 timesteps, got ${t.dtype}; create t with tf.tensor1d(values, 'int32').`);
  }
}

/** Throws unless `actual` has exactly the shape of `expected`. */
export function checkSameShape(caller: string, name: string, actual: tf.Tensor, expected: tf.Tensor): void {
  if (!tf.util.arraysEqual(actual.shape, expected.shape)) {
    throw new Error(
      `${caller}: ${name} has shape [${actual.shape.join(', ')}] but must match [${expected.shape.join(', ')}]; check how ${name} was built.`,
    );
  }
}
