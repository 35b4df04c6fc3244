/** What {@link classifierScores} returns. */
export interface ClassifierScores {
  readonly confidence: number;
  readonly labelEntropy: number;
  /** How many images got each label. */
  readonly labelCounts: number[];
}

/**
 * Two summaries of a classifier's softmax outputs over a set of images, `probabilities` holding `count` rows of
 * `classes` values:
 * - mean confidence: the mean over images of the largest class probability (1 = every image is recognised with
 *   certainty; blurry or ambiguous samples lower it);
 * - label entropy: the entropy, in nats, of the histogram of predicted labels (argmax): ln(classes) (2.303 for 10
 *   digits) when every class is predicted equally often, 0 when every image gets the same label (mode collapse).
 * Preconditions: probabilities.length === count * classes, count >= 1; throws a RangeError naming the mismatch.
 */
export function classifierScores(probabilities: ArrayLike<number>, count: number, classes: number): ClassifierScores {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`classifierScores: count and classes must be positive integers, got ${count} and ${classes}.`);
  }
  if (probabilities.length !== count * classes) {
    throw new RangeError(
      `classifierScores: ${probabilities.length} probabilities for ${count} images of ${classes} classes; pass count*classes values.`,
    );
  }
  const labelCounts = new Array<number>(classes).fill(0);
  let confidence = 0;
  for (let n = 0; n < count; n++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[n * classes + k] > probabilities[n * classes + best]) best = k;
    labelCounts[best] += 1;
    confidence += probabilities[n * classes + best];
  }
  let labelEntropy = 0;
  for (const seen of labelCounts) if (seen > 0) labelEntropy -= (seen / count) * Math.log(seen / count);
  return { confidence: confidence / count, labelEntropy, labelCounts };
}
