/**
 * Bounds a receiver enforces before it trusts anything a peer claims. They cap memory per message: the
 * decoder allocates at most about maxMessageBytes (only when a frame must be copied for alignment or byte
 * order), never an amount taken from a header.
 */
export interface ProtocolLimits {
  /** Largest accepted message: the sum of all frame lengths (the ROUTER identity frame excluded). */
  readonly maxMessageBytes: number;
  /** Largest accepted envelope frame (the protobuf part). */
  readonly maxEnvelopeBytes: number;
  /** Most tensor frames in one message. */
  readonly maxTensors: number;
  /** Most dimensions in one tensor shape. */
  readonly maxRank: number;
  /** Longest tensor name, in UTF-8 bytes. */
  readonly maxNameLength: number;
}

/**
 * Defaults: 256 MiB per message fits the full parameters of a 36M-float U-Net (144 MB) with room to spare;
 * 1 MiB of envelope fits the index list of a 200k-sample local batch and a model config JSON, while keeping
 * the protobuf decode of a hostile envelope to tens of milliseconds.
 */
export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  maxMessageBytes: 256 * 1024 * 1024,
  maxEnvelopeBytes: 1024 * 1024,
  maxTensors: 64,
  maxRank: 8,
  maxNameLength: 128,
});

/**
 * DEFAULT_LIMITS with `overrides` applied. Throws a RangeError (a programming error, not a protocol error)
 * when a value is not a positive safe integer.
 */
export function protocolLimits(overrides: Partial<ProtocolLimits> = {}): ProtocolLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(
        `protocol limit ${key} must be a positive integer, got ${String(value)}; pass e.g. { ${key}: ${String(DEFAULT_LIMITS[key as keyof ProtocolLimits])} }.`,
      );
    }
  }
  return Object.freeze(limits);
}
