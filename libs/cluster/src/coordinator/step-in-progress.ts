import type { Logger } from 'pino';
import type { Dataset } from '@ddpm/data';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import type { DataOrder, DataOrderState, StepOptimizer, StepRecord } from '@ddpm/training';
import type { BucketBarrier } from './bucket-barrier.ts';
import type { Member } from './membership.ts';
import type { RunDescription, ShardedAssignment } from './messages.ts';
import type { StragglerDetector } from './straggler-detector.ts';

/**
 * The coordinator's record of the step in progress: who got which samples, whose gradient is still awaited, which
 * buckets are complete, and the running sums for the step's loss. Created when the StepStarts go out, finished when
 * nothing is awaited any more.
 */
export interface StepInProgress {
  readonly step: number;
  readonly epoch: number;
  readonly startedMs: number;
  /** Checksum of the parameters the step is computed at (set by settle when the StepStarts went out without it). */
  checksum: number;
  /** The data order before this step took its batch: what a checkpoint written during the step must hold. */
  readonly orderBefore: DataOrderState;
  /** Worker id → the indices it was given. */
  readonly assigned: Map<number, Uint32Array>;
  /** Workers whose gradient is still awaited (some bucket has not arrived). */
  readonly awaited: Set<number>;
  /** Which buckets every worker still in the step has sent. */
  readonly buckets: BucketBarrier;
  /** Σ mean² over the buckets reduced so far: once above clip², the step is certain to be clipped. */
  normSquared: number;
  /** Buckets whose update was proposed and sent (proposals stop once the step is certain to be clipped). */
  proposed: number;
  /** Worker id → clock time when its StepStart was sent. */
  readonly sentMs: Map<number, number>;
  /** Worker id → its step deadline, StepStart.timeout_ms (0: none). */
  readonly timeoutMs: Map<number, number>;
  /** Deadlines count from no earlier than this (the coordinator's own pauses are not the workers' fault). */
  deadlinesFromMs?: number;
  readonly nonFinite: string[];
  /** Indices whose gradient arrived (finite or not): the samples this step consumed. */
  readonly consumed: number[];
  lastArrivalMs: number;
  /** The attempt, peers and bucket owners of the sharded topology (absent in the star). */
  readonly sharded?: ShardedAssignment;
  /** Sharded: workers that reported every part of their gradient sent (a WAITING Heartbeat of this step). */
  readonly handedOff?: Set<number>;
  lossSum: number;
  samples: number;
  contributors: number;
}

/** What {@link StepMachine.gradient} made of one Gradient message. */
export type GradientVerdict =
  /** Added (or refused with an Error already queued); nothing more to do. */
  | 'pending'
  /** The last awaited gradient of the step arrived: finish the step. */
  | 'complete'
  /** Computed on other parameters: the worker must be resynchronised. */
  | 'stale';

/** What {@link StepMachine.reduced} made of one ReducedGradient: `stale` names a worker to resynchronise. */
export interface ReducedVerdict {
  readonly complete: boolean;
  readonly stale?: number;
}

/** What a StepMachine works with; the engine owns the membership around it. */
export interface StepMachineContext {
  readonly description: RunDescription;
  readonly optimizer: StepOptimizer;
  readonly order: DataOrder;
  readonly dataset: Dataset;
  readonly stragglers: StragglerDetector;
  readonly log: Logger;
  readonly metrics?: CoordinatorMetrics;
  /** Milliseconds from a monotonic clock. */
  readonly now: () => number;
  /** The workers taking part now (they get every UpdateBucket and Update), in id order. */
  readonly active: () => readonly Member[];
  /** StepStart.timeout_ms for a worker (see StepDeadline); no deadline when absent. */
  readonly timeoutFor?: (id: number) => number;
}

/** How a finished step ended, for the engine to act on. */
export interface FinishedStep {
  readonly record: StepRecord;
  /** The next StepStarts may leave before the coordinator adopts the update (see {@link StepMachine.finish}). */
  readonly early: boolean;
  readonly assigned: number[];
  /** The step's wall time, StepStarts out to Update out. */
  readonly seconds: number;
}
