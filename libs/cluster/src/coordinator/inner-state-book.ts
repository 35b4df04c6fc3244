import {
  expectTensor,
  isProtocolError,
  TENSOR_NAMES,
  type DecodedMessage,
  type DecodedTensor,
  type TensorInput,
} from '@ddpm/protocol';
import type { AdamState, BucketLayout } from '@ddpm/training';
import { CheckpointSchedule, type CheckpointPolicy } from './checkpoint-schedule.ts';

type GradientMessage = Extract<DecodedMessage, { kind: 'gradient' }>;

const INNER_NAMES: readonly string[] = [TENSOR_NAMES.innerM, TENSOR_NAMES.innerV, TENSOR_NAMES.innerCount];

/** One shard's inner state as its Gradient buckets bring it in. */
interface ShardState {
  readonly m: Float32Array;
  readonly v: Float32Array;
  count: number;
  readonly arrived: Uint8Array;
}

/**
 * The workers' inner optimiser states of the low-communication mode (--sync-every), for checkpoints and exact resume.
 *
 * A worker's inner Adam state never travels in a normal outer step (that would cost twice the outer gradient). The
 * coordinator decides at the first StepStart of a step whether a checkpoint will follow it (the checkpoint schedule, asked
 * one step ahead); if so every StepStart of that step sets inner_state_wanted and each Gradient bucket brings the bucket's
 * inner moments along, which this book takes out of the message before the step machine sees it. A checkpoint is then
 * written only at a boundary whose every shard delivered its whole inner state ({@link ready}); the states are kept by
 * shard index, and the first StepStarts after a resume hand each shard its state back ({@link handoff}), whichever worker
 * computes that shard.
 *
 * Pure: no sockets, files or timers (the clock is passed in).
 */
export class InnerStateBook {
  private readonly schedule: CheckpointSchedule;
  private decidedStep = -1;
  private decidedWanted = false;
  /** The step whose inner states are being collected, its shard count and what arrived. */
  private collecting: { step: number; shardCount: number; shards: Map<number, ShardState> } | undefined;

  constructor(
    policy: CheckpointPolicy | undefined,
    private readonly total: number,
    private readonly layout: BucketLayout,
    private readonly now: () => number,
    /** The states of the checkpoint a run resumed from, and its step. */
    private readonly restored?: { readonly step: number; readonly states: readonly AdamState[] },
  ) {
    this.schedule = new CheckpointSchedule(policy, now());
  }

  /** Whether the StepStarts of `step` ask for the inner state: a checkpoint is due after it. Decided once per step. */
  wants(step: number): boolean {
    if (step !== this.decidedStep) {
      this.decidedStep = step;
      this.decidedWanted = this.schedule.due(step + 1, this.total, this.now());
      if (this.decidedWanted) this.collecting = { step, shardCount: 0, shards: new Map() };
    }
    return this.decidedWanted;
  }

  /** The StepStart tensors that give shard `shard` its saved inner state: only on the step a run resumed at. */
  handoff(step: number, shard: number): TensorInput[] {
    const state = this.restored?.step === step ? this.restored.states[shard] : undefined;
    if (state === undefined) return [];
    return [
      { name: TENSOR_NAMES.innerM, data: state.m, shape: [state.m.length] },
      { name: TENSOR_NAMES.innerV, data: state.v, shape: [state.v.length] },
      { name: TENSOR_NAMES.innerCount, data: Int32Array.of(state.count), shape: [1] },
    ];
  }

  /**
   * A Gradient without its inner-state tensors, which are recorded when they belong to the step being collected and
   * are well formed (otherwise dropped: that boundary then gets no checkpoint).
   */
  take(message: GradientMessage): GradientMessage {
    const tensors = message.tensors.filter((tensor) => !INNER_NAMES.includes(tensor.name));
    if (tensors.length === message.tensors.length) return message;
    try {
      this.record(message.body.step, message.body.bucket, message.tensors);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
    }
    return { ...message, tensors };
  }

  /** Whether a checkpoint of boundary `step` (after step − 1) can hold every shard's inner state. */
  ready(step: number): boolean {
    return this.states(step) !== undefined;
  }

  /** Every shard's inner state at boundary `step`, by shard index, or undefined when some shard's is missing. */
  states(step: number): AdamState[] | undefined {
    if (this.restored?.step === step) return [...this.restored.states];
    const collecting = this.collecting;
    if (collecting?.step !== step - 1 || collecting.shardCount === 0) return undefined;
    const states: AdamState[] = [];
    for (let shard = 0; shard < collecting.shardCount; shard++) {
      const state = collecting.shards.get(shard);
      if (state === undefined || state.arrived.includes(0)) return undefined;
      states.push({ m: state.m, v: state.v, count: state.count });
    }
    return states;
  }

  /** A checkpoint was written now (the time-based part of the schedule counts from here). */
  written(nowMs: number): void {
    this.schedule.written(nowMs);
  }

  private record(step: number, bucket: number, tensors: readonly DecodedTensor[]): void {
    const collecting = this.collecting;
    if (collecting?.step !== step || bucket >= this.layout.count) return;
    const { start, end } = this.layout.range(bucket);
    const [count, shard, shardCount] = expectTensor(tensors, TENSOR_NAMES.innerCount, [3], 'int32');
    const m = expectTensor(tensors, TENSOR_NAMES.innerM, [end - start], 'float32');
    const v = expectTensor(tensors, TENSOR_NAMES.innerV, [end - start], 'float32');
    if (collecting.shardCount === 0) collecting.shardCount = shardCount;
    if (shardCount !== collecting.shardCount || shard < 0 || shard >= shardCount || count < 0) return;
    let state = collecting.shards.get(shard);
    if (state === undefined) {
      const size = this.layout.total;
      state = {
        m: new Float32Array(size),
        v: new Float32Array(size),
        count,
        arrived: new Uint8Array(this.layout.count),
      };
      collecting.shards.set(shard, state);
    }
    state.m.set(m, start);
    state.v.set(v, start);
    state.count = count;
    state.arrived[bucket] = 1;
  }
}
