import { checkCount, checkEpoch, checkSeed, epochPermutation } from './sharding.ts';

/**
 * What {@link EpochCursor.next} does when fewer than the requested examples remain in the epoch:
 * - `short`: hand out the remaining ones (a shorter batch), the next call starts the next epoch;
 * - `drop`: skip them (like DataLoader drop_last) and take the full batch from the start of the next epoch.
 */
export type EpochTail = 'short' | 'drop';

/** Everything needed to rebuild an {@link EpochCursor} exactly; plain JSON, meant for checkpoints. */
export interface EpochCursorState {
  readonly count: number;
  readonly seed: number;
  /** The epoch the next batch comes from. */
  readonly epoch: number;
  /** How many entries of that epoch's permutation were already handed out, in [0, count). */
  readonly position: number;
  readonly tail: EpochTail;
}

/** One batch of example indices, all from the same epoch. */
export interface CursorBatch {
  readonly epoch: number;
  /** Position in the epoch permutation of the first index. */
  readonly start: number;
  /** The indices, a copy the caller may keep. */
  readonly indices: Uint32Array;
  /** True when this batch took the last example of its epoch. */
  readonly epochEnded: boolean;
}

export interface EpochCursorOptions {
  readonly tail?: EpochTail;
}

/**
 * Walks epoch after epoch of {@link epochPermutation}(seed, epoch, count), handing out batches of example indices,
 * for a coordinator that gives every active worker its local batch at every step (call `next` once per step for
 * the global batch and split it with splitGlobalBatch, or once per worker).
 *
 * Promises: within an epoch every example is handed out exactly once (tail `short`), or every one except a skipped
 * tail (tail `drop`); a batch never spans two epochs; `state()` saved in a checkpoint and restored with `fromState`
 * continues with exactly the same batches, mid-epoch included. Does not: know about workers, or load pixels.
 */
export class EpochCursor {
  readonly tail: EpochTail;
  private epochValue: number;
  private positionValue: number;
  private permutation: Uint32Array | undefined;

  constructor(
    readonly count: number,
    readonly seed: number,
    options: EpochCursorOptions = {},
  ) {
    checkCount(count, 'EpochCursor');
    checkSeed(seed, 'EpochCursor');
    this.tail = options.tail ?? 'short';
    if (this.tail !== 'short' && this.tail !== 'drop') {
      throw new RangeError(`EpochCursor: tail must be 'short' or 'drop', got '${String(this.tail)}'.`);
    }
    this.epochValue = 0;
    this.positionValue = 0;
  }

  /**
   * Restores a cursor saved with {@link EpochCursor.state}, checking that the state is consistent and, when
   * `expectedCount` is given (the size of the dataset loaded now), that it was saved for a dataset of that size.
   */
  static fromState(state: EpochCursorState, expectedCount?: number): EpochCursor {
    if (expectedCount !== undefined && state.count !== expectedCount) {
      throw new RangeError(
        `EpochCursor.fromState: the checkpoint walks a dataset of ${state.count} examples but the dataset has ${expectedCount}; ` +
          'resume with the dataset the run started with, or start a new run.',
      );
    }
    const cursor = new EpochCursor(state.count, state.seed, { tail: state.tail });
    checkEpoch(state.epoch, 'EpochCursor.fromState');
    if (!Number.isInteger(state.position) || state.position < 0 || state.position >= state.count) {
      throw new RangeError(
        `EpochCursor.fromState: position ${state.position} is outside [0, ${state.count}); ` +
          'the checkpoint is damaged or was written for a dataset of another size.',
      );
    }
    cursor.epochValue = state.epoch;
    cursor.positionValue = state.position;
    return cursor;
  }

  /** The epoch the next batch comes from. */
  get epoch(): number {
    return this.epochValue;
  }

  /** How many examples of the current epoch were already handed out. */
  get position(): number {
    return this.positionValue;
  }

  /** How many examples of the current epoch are left (at least 1). */
  remaining(): number {
    return this.count - this.positionValue;
  }

  state(): EpochCursorState {
    return {
      count: this.count,
      seed: this.seed,
      epoch: this.epochValue,
      position: this.positionValue,
      tail: this.tail,
    };
  }

  /**
   * The next batch of up to `n` indices (exactly `n` with tail `drop`, or when enough remain in the epoch).
   * Preconditions: n is a positive integer; with tail `drop`, n <= count.
   */
  next(n: number): CursorBatch {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`EpochCursor.next: n must be a positive integer, got ${n}.`);
    if (this.tail === 'drop' && this.remaining() < n) {
      if (n > this.count) {
        throw new RangeError(
          `EpochCursor.next: a batch of ${n} cannot be filled from an epoch of ${this.count} examples with tail 'drop'; ` +
            "lower the batch size or use tail 'short'.",
        );
      }
      this.advanceEpoch();
    }
    const epoch = this.epochValue;
    const start = this.positionValue;
    const end = Math.min(start + n, this.count);
    const indices = this.currentPermutation().slice(start, end);
    this.positionValue = end;
    const epochEnded = end === this.count;
    if (epochEnded) this.advanceEpoch();
    return { epoch, start, indices, epochEnded };
  }

  private advanceEpoch(): void {
    this.epochValue += 1;
    this.positionValue = 0;
    this.permutation = undefined;
  }

  private currentPermutation(): Uint32Array {
    this.permutation ??= epochPermutation(this.seed, this.epochValue, this.count);
    return this.permutation;
  }
}
