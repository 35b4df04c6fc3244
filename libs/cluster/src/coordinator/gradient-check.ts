import {
  ErrorCode,
  ErrorReason,
  expectFloats,
  expectOnlyTensors,
  ProtocolError,
  TENSOR_NAMES,
  type DecodedMessage,
  type Gradient,
} from '@ddpm/protocol';
import type { BucketLayout } from '@ddpm/training';
import type { StepInProgress } from './step-in-progress.ts';

/**
 * Why a Gradient bucket from worker `id` cannot be taken into the step in progress, or undefined when it can: it must
 * be for that step, from a worker whose gradient is awaited, over exactly the samples it was assigned, for an existing
 * bucket not sent before. Pure; the caller answers with the error and changes nothing.
 */
export function gradientRefusal(
  current: StepInProgress | undefined,
  id: number,
  body: Gradient,
  buckets: number,
): ProtocolError | undefined {
  if (current === undefined || body.step !== current.step) {
    const inProgress = current?.step ?? 'none';
    const text = `gradient for step ${body.step} but step ${inProgress} is in progress; it was dropped.`;
    return new ProtocolError(ErrorCode.WRONG_STEP, text, { step: body.step });
  }
  const assigned = current.awaited.has(id) ? current.assigned.get(id) : undefined;
  const reason =
    assigned === undefined
      ? `no gradient is awaited from this worker for step ${body.step}`
      : body.samples !== assigned.length
        ? `the gradient covers ${body.samples} samples but ${assigned.length} were assigned`
        : body.bucket >= buckets
          ? `bucket ${body.bucket} does not exist (Welcome.bucket_starts has ${buckets})`
          : current.buckets.has(id, body.bucket)
            ? `bucket ${body.bucket} of step ${body.step} arrived twice`
            : undefined;
  return reason === undefined
    ? undefined
    : new ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, `${reason}; it was dropped.`, { step: body.step });
}

/** The answer to a gradient computed on other parameters than the step's: dropped, and a Welcome follows. */
export function staleGradientError(step: number): ProtocolError {
  return new ProtocolError(
    ErrorCode.STALE_STATE,
    `the gradient of step ${step} was computed on other parameters than the step's; it was dropped and the worker is resynchronised: wait for the Welcome.`,
    { reason: ErrorReason.RESYNC_FOLLOWS, step },
  );
}

/**
 * The part a Gradient carries, widened into `widened` when it is bfloat16, or undefined when the worker reported it
 * non-finite. Throws a ProtocolError when the frames do not match the body.
 */
export function readGradientPart(
  message: Extract<DecodedMessage, { kind: 'gradient' }>,
  layout: BucketLayout,
  widened: Float32Array,
): Float32Array | undefined {
  const { body, tensors } = message;
  const { start, end } = layout.range(body.bucket);
  expectOnlyTensors(tensors, body.allFinite ? [TENSOR_NAMES.gradient] : []);
  if (!body.allFinite || !Number.isFinite(body.loss)) return undefined;
  return expectFloats(tensors, TENSOR_NAMES.gradient, end - start, widened);
}
