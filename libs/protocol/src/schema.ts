// Typed access to the protobuf.js code generated from proto/ddpm/v1 (src/generated, not committed; run
// `node libs/protocol/scripts/generate.mjs` if it is missing). Nothing here defines message fields: every
// message type comes from the generated code, this file only gives it stable names and a typed view of the
// Envelope's `body` oneof.
import { ddpm } from './generated/ddpm.js';

/**
 * The protocol version this code speaks (Envelope.protocol_version). Bumped only for incompatible changes;
 * see the versioning rules in docs/protocol.md.
 */
export const PROTOCOL_VERSION = 1;

/** The generated `ddpm.v1` namespace: message classes with encode/decode/verify, and enums. */
export const wire = ddpm.v1;

export const Envelope = ddpm.v1.Envelope;
export type Envelope = ddpm.v1.Envelope;
export const TensorHeader = ddpm.v1.TensorHeader;
export type TensorHeader = ddpm.v1.TensorHeader;
export const Hello = ddpm.v1.Hello;
export type Hello = ddpm.v1.Hello;
export const Welcome = ddpm.v1.Welcome;
export type Welcome = ddpm.v1.Welcome;
export const StepStart = ddpm.v1.StepStart;
export type StepStart = ddpm.v1.StepStart;
export const Gradient = ddpm.v1.Gradient;
export type Gradient = ddpm.v1.Gradient;
export const Update = ddpm.v1.Update;
export type Update = ddpm.v1.Update;
export const Heartbeat = ddpm.v1.Heartbeat;
export type Heartbeat = ddpm.v1.Heartbeat;
/** The wire Error body (named ErrorBody so it does not shadow the global Error). */
export const ErrorBody = ddpm.v1.Error;
export type ErrorBody = ddpm.v1.Error;
export const Leave = ddpm.v1.Leave;
export type Leave = ddpm.v1.Leave;
export const Shutdown = ddpm.v1.Shutdown;
export type Shutdown = ddpm.v1.Shutdown;
export const UpdateBucket = ddpm.v1.UpdateBucket;
export type UpdateBucket = ddpm.v1.UpdateBucket;
export const ReducedGradient = ddpm.v1.ReducedGradient;
export type ReducedGradient = ddpm.v1.ReducedGradient;
export const Topology = ddpm.v1.Topology;
export type Topology = ddpm.v1.Topology;

export const DType = ddpm.v1.DType;
export type DType = ddpm.v1.DType;
export const ErrorCode = ddpm.v1.ErrorCode;
export type ErrorCode = ddpm.v1.ErrorCode;
export const ErrorReason = ddpm.v1.ErrorReason;
export type ErrorReason = ddpm.v1.ErrorReason;
export const SkipReason = ddpm.v1.SkipReason;
export type SkipReason = ddpm.v1.SkipReason;
export const UpdateKind = ddpm.v1.UpdateKind;
export type UpdateKind = ddpm.v1.UpdateKind;
export const Phase = ddpm.v1.Phase;
export type Phase = ddpm.v1.Phase;

/** Name of the Envelope `body` oneof member that is set: 'hello', 'stepStart', 'gradient', ... */
export type BodyKind = NonNullable<ddpm.v1.Envelope['body']>;

/** The decoded body class for each kind (fields read from a decoded message always hold a value). */
export interface BodyTypes {
  hello: ddpm.v1.Hello;
  welcome: ddpm.v1.Welcome;
  stepStart: ddpm.v1.StepStart;
  gradient: ddpm.v1.Gradient;
  update: ddpm.v1.Update;
  heartbeat: ddpm.v1.Heartbeat;
  error: ddpm.v1.Error;
  leave: ddpm.v1.Leave;
  shutdown: ddpm.v1.Shutdown;
  updateBucket: ddpm.v1.UpdateBucket;
  reducedGradient: ddpm.v1.ReducedGradient;
}

/** The fields a sender may set on a body of kind K (all optional; unset fields take proto3 defaults). */
export type BodyFields<K extends BodyKind> = NonNullable<ddpm.v1.Envelope.$Properties[K]>;

/** The fields of a TensorHeader as written by encodeMessage. */
export type TensorHeaderFields = ddpm.v1.TensorHeader.$Properties;

/** Every body kind this version knows, in field-number order. */
export const BODY_KINDS = [
  'hello',
  'welcome',
  'stepStart',
  'gradient',
  'update',
  'heartbeat',
  'error',
  'leave',
  'shutdown',
  'updateBucket',
  'reducedGradient',
] as const satisfies readonly BodyKind[];

// Compile-time guard: a body added to envelope.proto but missing from BODY_KINDS or BodyTypes fails here.
type Missing = Exclude<BodyKind, (typeof BODY_KINDS)[number] | keyof BodyTypes>;
const _everyBodyListed: [Missing] extends [never] ? true : Missing = true;

/** True when `value` names a body kind this version knows. */
export function isBodyKind(value: unknown): value is BodyKind {
  return typeof value === 'string' && (BODY_KINDS as readonly string[]).includes(value);
}

/** The envelope fields other than the body, as a sender fills them in. */
export type EnvelopeHeaderFields = Omit<
  ddpm.v1.Envelope.$Properties,
  'tensors' | 'protocolVersion' | BodyKind | '$unknowns'
> & {
  /** Defaults to {@link PROTOCOL_VERSION}; set it only to test a peer's version handling. */
  protocolVersion?: number;
};

/**
 * An envelope ready to encode: header fields plus exactly one body (the type forbids zero or two bodies).
 * The tensor headers are not part of it: encodeMessage computes them from the tensors it is given.
 */
export type OutgoingEnvelope = {
  [K in BodyKind]: EnvelopeHeaderFields & { [P in K]: BodyFields<P> } & {
    [P in Exclude<BodyKind, K>]?: never;
  };
}[BodyKind];

/**
 * A message as its producer builds it: exactly one body, without the header fields (worker id, sequence, run id)
 * that the sending side fills in per connection.
 */
export type OutgoingBody = OutgoingEnvelope extends infer E
  ? E extends unknown
    ? Omit<E, 'workerId' | 'sequence' | 'runId'>
    : never
  : never;
