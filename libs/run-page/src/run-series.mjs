// The run page's series, kept in the metrics HTTP thread from what JsonlFollower reads: the loss by step (raw and
// smoothed) from metrics.jsonl and the Fréchet distance by step from eval.jsonl. Pure: no I/O, no clock.

/** Smoothing factor of the page's smoothed loss: the bias-corrected EMA of ddpm_loss_smoothed (beta 0.98). */
export const LOSS_SMOOTHING = 0.98;

/** Every `stride`-th index of a series of `length` points, always ending with the last one; at most `max` points. */
export function decimatedIndices(length, max) {
  if (!(Number.isInteger(max) && max >= 2)) throw new RangeError(`decimatedIndices: max must be >= 2, got ${max}.`);
  if (length <= max) return Array.from({ length }, (_, i) => i);
  const stride = Math.ceil((length - 1) / (max - 1));
  const indices = [];
  for (let i = 0; i < length - 1; i += stride) indices.push(i);
  indices.push(length - 1);
  return indices;
}

/** The loss against step: every finite, applied step of metrics.jsonl, with the smoothed loss computed over all. */
export class LossSeries {
  #step = [];
  #loss = [];
  #smoothed = [];
  #ema = 0;
  #count = 0;

  /** Appends metrics.jsonl records in file order; skipped steps and non-finite losses are left out. */
  add(records) {
    for (const record of records) {
      const { step, loss } = record;
      if (record.skipped === true || !Number.isFinite(step) || !Number.isFinite(loss)) continue;
      this.#count += 1;
      this.#ema = LOSS_SMOOTHING * this.#ema + (1 - LOSS_SMOOTHING) * loss;
      this.#step.push(step);
      this.#loss.push(loss);
      this.#smoothed.push(this.#ema / (1 - LOSS_SMOOTHING ** this.#count));
    }
  }

  clear() {
    this.#step = [];
    this.#loss = [];
    this.#smoothed = [];
    this.#ema = 0;
    this.#count = 0;
  }

  get length() {
    return this.#step.length;
  }

  /** At most `maxPoints` points spread over the whole run (always the newest), for the page's chart. */
  view(maxPoints) {
    const indices = decimatedIndices(this.#step.length, maxPoints);
    const pick = (values) => indices.map((i) => Number(values[i].toPrecision(6))); // 6 digits: half the bytes
    return { steps: this.#step.length, step: pick(this.#step), loss: pick(this.#loss), smoothed: pick(this.#smoothed) };
  }
}

const EVAL_FIELDS = ['step', 'fd', 'fd_floor', 'fd_ratio', 'count', 'confidence', 'label_entropy', 'seconds', 'time'];

/**
 * The evaluations of eval.jsonl (one line per evaluation: see docs/run-page.md) in step order, at most `max` kept (the
 * highest steps). A step evaluated again replaces its earlier point: `ddpm eval --record` may file checkpoints after
 * training, in any order.
 */
export class EvalSeries {
  #points = [];

  constructor(max = 5000) {
    this.max = max;
  }

  add(records) {
    for (const record of records) {
      if (!Number.isFinite(record.step) || !Number.isFinite(record.fd)) continue;
      const point = {};
      for (const field of EVAL_FIELDS) if (record[field] !== undefined) point[field] = record[field];
      let at = this.#points.length;
      while (at > 0 && this.#points[at - 1].step > point.step) at--;
      const same = at > 0 && this.#points[at - 1].step === point.step;
      this.#points.splice(same ? at - 1 : at, same ? 1 : 0, point);
    }
    if (this.#points.length > this.max) this.#points = this.#points.slice(-this.max);
  }

  clear() {
    this.#points = [];
  }

  view() {
    return { evaluations: this.#points.length, points: this.#points };
  }
}
