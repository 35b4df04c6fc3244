import { EpochCursor, type EpochCursorState } from '@ddpm/data';

/** Dataset indices handed out but not consumed (their worker failed), waiting to be handed out again first. */
export interface CarriedIndices {
  readonly epoch: number;
  readonly indices: readonly number[];
}

/** Everything needed to rebuild a {@link DataOrder} exactly; plain JSON, stored in checkpoints. */
export interface DataOrderState {
  readonly cursor: EpochCursorState;
  /** Given-back indices, served before the cursor moves on; all of one epoch (empty when nothing was given back). */
  readonly carry: CarriedIndices;
}

/** One global batch: indices of a single epoch. */
export interface OrderedBatch {
  readonly epoch: number;
  readonly indices: Uint32Array;
}

/**
 * The order in which a run consumes its dataset: the epochs of an {@link EpochCursor} (a seeded permutation per epoch,
 * short last batch), plus a carry of indices that were handed out but not consumed because the worker computing them
 * failed or left. Given-back indices are handed out again before anything new, in the same epoch.
 *
 * Promises: if every index of every batch is either consumed or given back (exactly once) the consumed indices of each
 * epoch are exactly the epoch's permutation: nothing repeated, nothing skipped, whatever the batch sizes and failures.
 * A batch never spans two epochs. `state()` / `fromState()` continue with identical batches (mid-epoch and with a carry).
 * Does not: know about workers (the caller splits the batch) or load pixels.
 */
export class DataOrder {
  private carry: { epoch: number; indices: number[] };

  private constructor(
    private readonly cursor: EpochCursor,
    carry: CarriedIndices,
  ) {
    this.carry = { epoch: carry.epoch, indices: [...carry.indices] };
  }

  /** A fresh order at epoch 0, position 0. */
  static start(count: number, seed: number): DataOrder {
    return new DataOrder(new EpochCursor(count, seed), { epoch: 0, indices: [] });
  }

  /**
   * Restores a saved order; `expectedCount` is the size of the dataset loaded now. Throws an error saying what to do
   * when the state is inconsistent (another dataset size, carried indices out of range).
   */
  static fromState(state: DataOrderState, expectedCount: number): DataOrder {
    const cursor = EpochCursor.fromState(state.cursor, expectedCount);
    const { epoch, indices } = state.carry;
    if (
      !Number.isSafeInteger(epoch) ||
      epoch < 0 ||
      !indices.every((i) => Number.isInteger(i) && i >= 0 && i < expectedCount)
    ) {
      throw new RangeError(
        `DataOrder.fromState: the carried indices do not fit a dataset of ${expectedCount} examples; the checkpoint is damaged or belongs to another dataset.`,
      );
    }
    return new DataOrder(cursor, state.carry);
  }

  /** The epoch the next batch comes from. */
  get epoch(): number {
    return this.carry.indices.length > 0 ? this.carry.epoch : this.cursor.epoch;
  }

  /** Number of given-back indices waiting. */
  get carried(): number {
    return this.carry.indices.length;
  }

  /**
   * The next global batch of up to `n` indices: given-back indices first, then new ones of the same epoch. It is short
   * at the end of an epoch, or when the carry belongs to an epoch the cursor has already finished.
   */
  next(n: number): OrderedBatch {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`DataOrder.next: n must be a positive integer, got ${n}.`);
    if (this.carry.indices.length === 0) {
      const { epoch, indices } = this.cursor.next(n);
      return { epoch, indices };
    }
    const epoch = this.carry.epoch;
    const taken = this.carry.indices.splice(0, n);
    if (taken.length < n && this.cursor.epoch === epoch) {
      const more = this.cursor.next(n - taken.length);
      taken.push(...more.indices);
    }
    return { epoch, indices: Uint32Array.from(taken) };
  }

  /**
   * Returns indices of the batch just handed out (epoch `epoch`) that were not consumed; they come out first again.
   * Precondition: they are part of the most recent batch, which was of `epoch`, and were not given back before.
   */
  giveBack(epoch: number, indices: ArrayLike<number>): void {
    if (indices.length === 0) return;
    if (this.carry.indices.length > 0 && this.carry.epoch !== epoch) {
      throw new Error(
        `DataOrder.giveBack: indices of epoch ${epoch} while indices of epoch ${this.carry.epoch} are still waiting; give back only indices of the latest batch.`,
      );
    }
    this.carry = { epoch, indices: [...Array.from(indices), ...this.carry.indices] };
  }

  state(): DataOrderState {
    return { cursor: this.cursor.state(), carry: { epoch: this.carry.epoch, indices: [...this.carry.indices] } };
  }
}
