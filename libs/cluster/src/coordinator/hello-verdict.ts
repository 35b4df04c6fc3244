import { ErrorCode, ErrorReason, PROTOCOL_VERSION, ProtocolError, type Hello } from '@ddpm/protocol';
import type { Member, Membership } from './membership.ts';

/** What the coordinator does with a Hello. */
export type HelloVerdict =
  /** Answer with this Error and register nothing. */
  | { readonly kind: 'refuse'; readonly error: ProtocolError }
  /** The connection already belongs to this member: it lost its state; resynchronise it. */
  | { readonly kind: 'resynchronise'; readonly member: Member }
  /** Register a new member (after dropping `replaces`, the same worker's old connection, when set). */
  | { readonly kind: 'register'; readonly name: string; readonly hasDataset: boolean; readonly replaces?: Member };

/** What a Hello is judged against. */
export interface HelloContext {
  readonly runId: string;
  /** The coordinator's dataset fingerprint (datasetFingerprint). */
  readonly fingerprint: string;
  readonly maxWorkers: number;
  readonly heartbeatIntervalMs: number;
  readonly members: Membership;
  readonly nowMs: number;
  /** The run's --topology: 'sharded' needs Hello.peer_endpoint. */
  readonly topology?: 'star' | 'sharded';
}

/**
 * Decides what a Hello arriving on connection `identity` leads to: refused (wrong protocol version, bad name, job full,
 * other dataset), a resynchronisation (the connection is a member already), or a registration, possibly replacing the
 * same worker's old connection.
 *
 * Promises: a rejoining worker (Hello.resume naming this run) replaces its old member only when the name matches and the
 * old connection has been silent for two heartbeat intervals, so a forged Hello cannot displace a live worker; a full
 * job refuses a rejoining worker without `fatal`, so it retries once its old member timed out.
 * Does not: change the membership or send anything (the coordinator acts on the verdict).
 */
export function judgeHello(hello: Hello, identity: Buffer, context: HelloContext): HelloVerdict {
  const refuse = (code: ErrorCode, message: string, fatal = true, reason?: ErrorReason): HelloVerdict => ({
    kind: 'refuse',
    error: new ProtocolError(code, message, { fatal, reason }),
  });
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return refuse(
      ErrorCode.VERSION_MISMATCH,
      `Hello says protocol version ${hello.protocolVersion} but this coordinator speaks ${PROTOCOL_VERSION}; run the same ddpm version on both sides.`,
    );
  }
  const name = hello.workerName || 'worker';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || hello.backend.length > 64) {
    return refuse(
      ErrorCode.BAD_MESSAGE,
      `worker_name '${name.slice(0, 80)}' is refused: it must match ^[A-Za-z0-9_.-]{1,64}$ (empty means 'worker') and backend must be at most 64 characters; pass a short --name. Fatal: the same Hello is refused again.`,
      true,
      ErrorReason.BAD_WORKER_NAME,
    );
  }
  if (context.topology === 'sharded' && !/^tcp:\/\/[^*\s]+:[1-9][0-9]{0,4}$/.test(hello.peerEndpoint)) {
    return refuse(
      ErrorCode.NOT_ALLOWED,
      `this run uses --topology sharded, so each worker must say where the others reach it, but Hello.peer_endpoint is '${hello.peerEndpoint.slice(0, 80)}'; start the worker with --peer-endpoint tcp://ADDRESS:PORT (an address the other workers can reach, not *).`,
    );
  }
  const existing = context.members.byIdentity(identity);
  if (existing !== undefined) return { kind: 'resynchronise', member: existing };
  const resume = hello.resume;
  const rejoining = resume != null && resume.runId === context.runId;
  const old = rejoining ? context.members.get(resume.workerId ?? 0) : undefined;
  const replaces =
    old !== undefined && old.name === name && context.nowMs - old.lastSeenMs >= 2 * context.heartbeatIntervalMs
      ? old
      : undefined;
  if (context.members.size - (replaces === undefined ? 0 : 1) >= context.maxWorkers) {
    return refuse(
      ErrorCode.RESOURCE_EXHAUSTED,
      `the job already has --max-workers ${context.maxWorkers} workers (joined or joining); raise it on the coordinator or stop this worker.`,
      !rejoining,
    );
  }
  const hasDataset = hello.capabilities?.hasDataset === true;
  if (hasDataset && hello.capabilities?.datasetFingerprint !== context.fingerprint) {
    return refuse(
      ErrorCode.DATASET_MISMATCH,
      `the worker's dataset (${hello.capabilities?.datasetFingerprint}) differs from the coordinator's (${context.fingerprint}); point --data at the same files (and the same --dataset-limit), or use --data stream to receive samples from the coordinator.`,
    );
  }
  return { kind: 'register', name, hasDataset, replaces };
}
