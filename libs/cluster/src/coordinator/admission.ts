import { ErrorCode, ErrorReason, ProtocolError, type DecodedMessage } from '@ddpm/protocol';
import type { Member } from './membership.ts';

/** What {@link admit} decided about a registered worker's message. */
export type Admission =
  | { readonly accepted: true; /** Messages skipped since the last accepted one (0 normally). */ readonly lost: number }
  | { readonly accepted: false; readonly error: ProtocolError };

/**
 * Checks the envelope of a message from a registered worker: its sequence, the worker id it claims and its run.
 *
 * ZeroMQ keeps each connection's order, so a worker's sequence only moves forward: a number at or behind the last one
 * is a replay (refused, counter unchanged); a jump ahead is accepted and reported as `lost`. A worker not welcomed
 * yet on this connection does not know its id or the run: it sends id 0 and no run id; queued heartbeats of that phase
 * may arrive after the Welcome, so id 0 stays acceptable for heartbeats.
 *
 * Promises: a message whose sequence moves forward advances member.lastSequence, even when its id or run is then
 * refused (it did arrive, in order); a replay leaves the member unchanged. A refusal's error says why (the caller
 * answers with it, unless the message was itself an Error).
 * Does not: look at the body, send anything, or update liveness (lastSeenMs).
 */
export function admit(member: Member, message: DecodedMessage, runId: string): Admission {
  const { sequence, workerId } = message.envelope;
  const ahead = (sequence - member.lastSequence) >>> 0;
  if (ahead === 0 || ahead >= 0x80000000) {
    return refuse(
      ErrorCode.BAD_MESSAGE,
      `sequence ${sequence} is not after ${member.lastSequence}: a replayed or reordered message; it was ignored.`,
    );
  }
  member.lastSequence = sequence;
  const anonymous = workerId === 0 && (member.state === 'pending' || message.kind === 'heartbeat');
  if (workerId !== member.id && !anonymous) {
    return refuse(
      ErrorCode.UNKNOWN_WORKER,
      `this connection is worker ${member.id} but the message claims worker ${workerId}; it was ignored.`,
    );
  }
  if (!anonymous && message.envelope.runId !== runId) {
    const text = `the message is for run '${message.envelope.runId}' but this run is '${runId}'; send a Hello without resume to join it.`;
    return {
      accepted: false,
      error: new ProtocolError(ErrorCode.STALE_STATE, text, { reason: ErrorReason.WRONG_RUN }),
    };
  }
  return { accepted: true, lost: ahead - 1 };
}

function refuse(code: ErrorCode, message: string): Admission {
  return { accepted: false, error: new ProtocolError(code, message) };
}

/**
 * The answer to a message from a connection that has not registered (or was dropped): STALE_STATE/REJOIN when it names
 * this run and a worker id (send a Hello with resume), otherwise UNKNOWN_WORKER (send a Hello). Neither is fatal.
 */
export function strangerError(message: DecodedMessage, runId: string): ProtocolError {
  const { workerId } = message.envelope;
  if (message.envelope.runId === runId && workerId > 0) {
    return new ProtocolError(
      ErrorCode.STALE_STATE,
      `worker ${workerId} is not (or no longer) part of this run: it was dropped after missing heartbeats or a step deadline, or the coordinator restarted; send a Hello with resume to rejoin.`,
      { reason: ErrorReason.REJOIN },
    );
  }
  return new ProtocolError(ErrorCode.UNKNOWN_WORKER, 'this connection has not registered; send Hello first.');
}
