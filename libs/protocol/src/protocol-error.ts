import { ErrorCode, ErrorReason, type BodyFields } from './schema.ts';

/** Codes after which the peer cannot usefully continue without a change on its side. */
const FATAL_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.VERSION_MISMATCH,
  ErrorCode.NOT_ALLOWED,
  ErrorCode.DATASET_MISMATCH,
]);

/**
 * A protocol violation: the only exception decodeMessage and the validate helpers throw.
 *
 * `code` is the wire ErrorCode, so the receiver can answer the sender with an Error body built by
 * {@link ProtocolError.toBody}. `message` says what is wrong and what the sender must change.
 * `fatal` says whether the peer should be dropped (defaults per code: VERSION_MISMATCH, NOT_ALLOWED and
 * DATASET_MISMATCH are fatal, everything else is not). `reason` tells apart the meanings of one code (ErrorReason, for
 * example STALE_STATE with RESYNC_FOLLOWS, WRONG_RUN or REJOIN); `step` is the step the error concerns (0: none).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  readonly fatal: boolean;
  readonly reason: ErrorReason;
  readonly step: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { fatal?: boolean; cause?: unknown; reason?: ErrorReason; step?: number } = {},
  ) {
    super(`${errorCodeName(code)}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fatal = options.fatal ?? FATAL_BY_DEFAULT.has(code);
    this.reason = options.reason ?? ErrorReason.ERROR_REASON_UNSPECIFIED;
    this.step = options.step ?? 0;
  }

  /** The symbolic name of the code, e.g. 'CRC_MISMATCH'. */
  get codeName(): string {
    return errorCodeName(this.code);
  }

  /**
   * The wire Error body that reports this error to the peer.
   * `inReplyTo` is the offending message's Envelope.sequence (0 when unknown), `step` the step concerned (by default
   * the one the error was built with).
   */
  toBody(inReplyTo = 0, step = this.step): BodyFields<'error'> {
    return { code: this.code, message: this.message, fatal: this.fatal, inReplyTo, step, reason: this.reason };
  }
}

/** The symbolic name of an ErrorCode, or `ERROR_CODE_<n>` for a number this version does not know. */
export function errorCodeName(code: ErrorCode | number): string {
  const name: unknown = (ErrorCode as unknown as Record<number, unknown>)[code];
  return typeof name === 'string' ? name : `ERROR_CODE_${code}`;
}

/** True when `error` is a ProtocolError, optionally with the given code. */
export function isProtocolError(error: unknown, code?: ErrorCode): error is ProtocolError {
  return error instanceof ProtocolError && (code === undefined || error.code === code);
}
