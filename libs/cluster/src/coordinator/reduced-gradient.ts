import type { Logger } from 'pino';
import {
  ErrorCode,
  expectFloats,
  expectOnlyTensors,
  isProtocolError,
  ProtocolError,
  TENSOR_NAMES,
  type DecodedMessage,
  type ReducedGradient,
} from '@ddpm/protocol';
import type { BucketLayout } from '@ddpm/training';
import type { StepInProgress } from './step-in-progress.ts';
import { noteNonFinite } from './step-outcome.ts';

type Reduced = Extract<DecodedMessage, { kind: 'reducedGradient' }>;

/** One worker's part of a ReducedGradient, with proto3 defaults filled in. */
export interface ReducedPart {
  readonly workerId: number;
  readonly samples: number;
  readonly loss: number;
  readonly allFinite: boolean;
  readonly nonFiniteCount: number;
  readonly parameterChecksum: number;
}

/** The contributions of a ReducedGradient as plain records. */
export function contributionsOf(body: ReducedGradient): ReducedPart[] {
  return body.contributions.map((c) => ({
    workerId: c.workerId ?? 0,
    samples: c.samples ?? 0,
    loss: c.loss ?? Number.NaN,
    allFinite: c.allFinite === true,
    nonFiniteCount: c.nonFiniteCount ?? 0,
    parameterChecksum: c.parameterChecksum ?? 0,
  }));
}

/** What a ReducedGradient holds for the step in progress, or why it is not taken. */
export type ReducedReading =
  /** Of an abandoned attempt or an earlier step: dropped without an answer. */
  | { readonly kind: 'old' }
  | { readonly kind: 'refused'; readonly error: ProtocolError }
  /** Worker `worker` computed on other parameters than the step's. */
  | { readonly kind: 'stale'; readonly worker: number }
  /** The bucket's mean over `samples` samples; undefined when a contribution was not finite. */
  | { readonly kind: 'read'; readonly mean: Float32Array | undefined; readonly samples: number };

/**
 * Checks and decodes a ReducedGradient from worker `id` against the step in progress (sharded topology; its checksum
 * settled). Pure apart from writing bfloat16 widened into `widened` (at least the bucket's length).
 */
export function readReduced(
  current: StepInProgress | undefined,
  id: number,
  message: Reduced,
  layout: BucketLayout,
  widened: Float32Array,
): ReducedReading {
  const { body } = message;
  const refusal = reducedRefusal(current, id, body, layout.count);
  if (refusal === 'old') return { kind: 'old' };
  if (refusal !== undefined) return { kind: 'refused', error: refusal };
  const checksum = (current as StepInProgress).checksum >>> 0;
  const parts = contributionsOf(body);
  const stale = parts.find((c) => c.parameterChecksum >>> 0 !== checksum);
  if (stale !== undefined) return { kind: 'stale', worker: stale.workerId };
  const { start, end } = layout.range(body.bucket);
  const allFinite = parts.every((c) => c.allFinite && Number.isFinite(c.loss));
  try {
    expectOnlyTensors(message.tensors, allFinite ? [TENSOR_NAMES.gradient] : []);
    const mean = allFinite ? expectFloats(message.tensors, TENSOR_NAMES.gradient, end - start, widened) : undefined;
    return { kind: 'read', mean, samples: parts.reduce((sum, c) => sum + c.samples, 0) };
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return { kind: 'refused', error };
  }
}

/**
 * Records the bucket as sent by every contributor; a non-finite one (or a mean the reducer found non-finite) skips
 * the step for everyone, as in the star. `names`: worker id → name, for the log.
 */
export function recordReduced(
  current: StepInProgress,
  body: ReducedGradient,
  finite: boolean,
  names: ReadonlyMap<number, string>,
  log: Logger,
): void {
  const parts = contributionsOf(body);
  for (const c of parts) {
    const name = names.get(c.workerId) ?? String(c.workerId);
    if (!finite && !(c.allFinite && Number.isFinite(c.loss)))
      noteNonFinite(current, name, { ...c, step: body.step, bucket: body.bucket }, log);
    current.buckets.record(c.workerId, body.bucket);
  }
  if (!finite && current.nonFinite.length === 0) {
    const first = parts[0];
    const name = names.get(first?.workerId ?? 0) ?? 'unknown';
    noteNonFinite(current, name, { step: body.step, bucket: body.bucket, loss: NaN, nonFiniteCount: 1 }, log);
  }
}

/**
 * Why a ReducedGradient from worker `id` cannot be taken into the step in progress (sharded topology), 'old' for one of
 * an abandoned attempt or an earlier step (dropped without an answer: it crossed the StepStarts of the new attempt), or
 * undefined when it can: from the bucket's owner, once per bucket, with one contribution from each worker of the
 * attempt over exactly the samples it was assigned.
 */
export function reducedRefusal(
  current: StepInProgress | undefined,
  id: number,
  body: ReducedGradient,
  buckets: number,
): ProtocolError | 'old' | undefined {
  if (current?.sharded === undefined) {
    const text = `a ReducedGradient for step ${body.step} but no step of the sharded topology is in progress; it was dropped.`;
    return current === undefined || body.step < current.step
      ? 'old'
      : new ProtocolError(ErrorCode.WRONG_STEP, text, { step: body.step });
  }
  if (body.step < current.step || (body.step === current.step && body.attempt < current.sharded.attempt)) return 'old';
  const expected = [...current.assigned.keys()];
  const parts = contributionsOf(body);
  const ids = parts.map((c) => c.workerId);
  const reason =
    body.step !== current.step || body.attempt !== current.sharded.attempt
      ? `it is for step ${body.step} attempt ${body.attempt}, but step ${current.step} attempt ${current.sharded.attempt} is in progress`
      : body.bucket >= buckets
        ? `bucket ${body.bucket} does not exist (Welcome.bucket_starts has ${buckets})`
        : current.sharded.bucketOwners[body.bucket] !== id
          ? `bucket ${body.bucket} is owned by worker ${current.sharded.bucketOwners[body.bucket]}, not by the sender`
          : ids.length !== expected.length ||
              new Set(ids).size !== ids.length ||
              !ids.every((w) => current.assigned.has(w))
            ? `its contributions (workers ${ids.join(', ')}) are not the step's workers (${expected.join(', ')}), each once`
            : parts.some((c) => c.samples !== current.assigned.get(c.workerId)?.length)
              ? 'a contribution covers another number of samples than its worker was assigned'
              : ids.some((w) => current.buckets.has(w, body.bucket))
                ? `bucket ${body.bucket} of step ${body.step} arrived twice`
                : undefined;
  return reason === undefined
    ? undefined
    : new ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, `${reason}; it was dropped.`, { step: body.step });
}
