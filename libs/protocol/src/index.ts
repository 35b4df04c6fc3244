// Public API of @ddpm/protocol: the ddpm.v1 wire schema (generated from proto/ddpm/v1), the frame codec
// and model-agnostic validation helpers. See docs/protocol.md.
export {
  PROTOCOL_VERSION,
  BODY_KINDS,
  isBodyKind,
  wire,
  Envelope,
  TensorHeader,
  Hello,
  Welcome,
  StepStart,
  Gradient,
  Update,
  Heartbeat,
  ErrorBody,
  Leave,
  Shutdown,
  UpdateBucket,
  ReducedGradient,
  Topology,
  DType,
  ErrorCode,
  ErrorReason,
  SkipReason,
  UpdateKind,
  Phase,
} from './schema.ts';
export type {
  BodyKind,
  BodyTypes,
  BodyFields,
  EnvelopeHeaderFields,
  OutgoingBody,
  OutgoingEnvelope,
  TensorHeaderFields,
} from './schema.ts';
export { ProtocolError, errorCodeName, isProtocolError } from './protocol-error.ts';
export { DEFAULT_LIMITS, protocolLimits } from './limits.ts';
export type { ProtocolLimits } from './limits.ts';
export type { DTypeName, TensorData, TensorDataByDType, WireDtype } from './dtype.ts';
export { WIRE_DTYPES } from './dtype.ts';
export { encodeMessage, decodeMessage } from './frames.ts';
export type { TensorInput, DecodedTensor, DecodedMessage } from './frames.ts';
export {
  TENSOR_NAMES,
  expectFloats,
  expectTensor,
  findTensor,
  expectOnlyTensors,
  expectBody,
  expectStep,
  expectRun,
  parameterChecksum,
  expectChecksum,
  countNonFinite,
  expectFinite,
  nextSequence,
} from './validate.ts';
export { readAllowList, readKeyPair, readPublicKey, writeKeyPair, type CurveKeyPair } from './curve-keys.ts';
export { fromBfloat16, toBfloat16 } from './bfloat16.ts';
