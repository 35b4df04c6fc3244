// Test fixtures (not part of the public API): one realistic envelope per body kind, and a seeded
// generator for tests that need reproducible randomness without depending on another lib.
import type { TensorInput } from './frames.ts';
import { ErrorCode, Phase, SkipReason, UpdateKind, type BodyKind, type OutgoingEnvelope } from './schema.ts';

/** One envelope per body kind, with non-default values in every field a bug could drop. */
export const SAMPLE_ENVELOPES: { readonly [K in BodyKind]: OutgoingEnvelope & { [P in K]: unknown } } = {
  hello: {
    sequence: 1,
    hello: {
      protocolVersion: 1,
      workerName: 'gpu-host-3:0',
      backend: 'wasm',
      capabilities: {
        hasDataset: false,
        datasetFingerprint: '',
        maxMessageBytes: 1 << 27,
        acceptsDeltaUpdates: true,
        maxLocalBatch: 256,
      },
      resume: { runId: 'run-7', workerId: 4, lastAppliedStep: 1200, parameterChecksum: 0xdeadbeef },
      softwareVersion: 'ddpm-worker 0.1.0',
      curvePublicKey: Buffer.alloc(32, 7), // decoded bytes fields are Buffers
    },
  },
  welcome: {
    sequence: 2,
    workerId: 5,
    runId: 'run-7',
    welcome: {
      workerId: 5,
      runId: 'run-7',
      model: { preset: 'mnist-small', configJson: '{"channels":32,"levels":[1,2,2]}', parameterCount: 1_100_000 },
      hyperParameters: {
        learningRate: 2e-4,
        adamBeta1: 0.9,
        adamBeta2: 0.999,
        adamEpsilon: 1e-8,
        emaDecay: 0.9999,
        globalBatchSize: 128,
        gradientClipNorm: 1,
        warmupSteps: 500,
        diffusionSteps: 1000,
        seed: 42,
      },
      step: 1201,
      parameterChecksum: 0x01234567,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 10_000,
      maxMessageBytes: 1 << 28,
      parametersOmitted: false,
      datasetSize: 60_000,
      bucketStarts: [0, 262_144, 900_000],
    },
  },
  stepStart: {
    sequence: 3,
    workerId: 5,
    runId: 'run-7',
    stepStart: {
      step: 1201,
      epoch: 2,
      indices: [0, 17, 59_999, 4_000_000_000],
      samplesInline: true,
      seed: 0xfedcba98,
      shardIndex: 1,
      shardCount: 3,
      globalBatchSize: 12,
      parameterChecksum: 0x01234567,
      timeoutMs: 30_000,
      attempt: 2,
      peers: [
        { workerId: 5, endpoint: 'tcp://10.0.0.7:5600', curvePublicKey: Buffer.alloc(32, 7) },
        { workerId: 6, endpoint: 'tcp://10.0.0.8:5600' },
      ],
      bucketOwners: [5, 6, 5],
    },
  },
  gradient: {
    sequence: 4,
    workerId: 5,
    runId: 'run-7',
    gradient: {
      step: 1201,
      samples: 4,
      loss: 0.0731,
      gradientNorm: 3.25,
      allFinite: true,
      nonFiniteCount: 0,
      timings: { dataMs: 1.5, computeMs: 812.25, encodeMs: 3, totalMs: 817 },
      parameterChecksum: 0x01234567,
      bucket: 2,
    },
  },
  update: {
    sequence: 5,
    runId: 'run-7',
    update: {
      step: 1201,
      skipped: false,
      skipReason: SkipReason.SKIP_REASON_UNSPECIFIED,
      skipDetail: '',
      parameterChecksum: 0x89abcdef,
      learningRate: 1.5e-4,
      kind: UpdateKind.DELTA,
      loss: 0.07,
      gradientNorm: 2.5,
      samples: 12,
      contributors: 3,
      epoch: 2,
    },
  },
  heartbeat: {
    sequence: 6,
    workerId: 5,
    heartbeat: { sentAtUnixMs: 1_764_331_200_123.5, echoUnixMs: 1_764_331_199_000, step: 1201, phase: Phase.COMPUTING },
  },
  error: {
    sequence: 7,
    error: {
      code: ErrorCode.STALE_STATE,
      message: 'parameter checksum differs; reload parameters',
      fatal: false,
      inReplyTo: 4,
      step: 1201,
    },
  },
  leave: { sequence: 8, workerId: 5, runId: 'run-7', leave: { reason: 'SIGTERM', lastAppliedStep: 1200 } },
  shutdown: {
    sequence: 9,
    runId: 'run-7',
    shutdown: { reason: 'training complete', finalStep: 50_000, completed: true },
  },
  updateBucket: { sequence: 10, workerId: 5, runId: 'run-7', updateBucket: { step: 1201, bucket: 1, attempt: 1 } },
  reducedGradient: {
    sequence: 11,
    workerId: 5,
    runId: 'run-7',
    reducedGradient: {
      step: 1201,
      attempt: 1,
      bucket: 2,
      contributions: [
        { workerId: 5, samples: 32, loss: 0.5, allFinite: true, parameterChecksum: 0xdeadbeef },
        { workerId: 6, samples: 31, loss: Number.NaN, allFinite: false, nonFiniteCount: 3, parameterChecksum: 7 },
      ],
    },
  },
};

/** Tensors of every dtype, with values that expose byte-order, sign and special-float mistakes. */
export function sampleTensors(): TensorInput[] {
  return [
    {
      name: 'gradient',
      data: Float32Array.from([1, -0, Number.NaN, Infinity, -Infinity, 1e-45, 3.4e38, -2.5]),
      shape: [2, 4],
    },
    { name: 'labels', data: Int32Array.from([0, -1, 2147483647, -2147483648, 7, 0x01020304]), shape: [6] },
    { name: 'samples', data: Uint8Array.from([0, 1, 127, 128, 254, 255]), shape: [1, 2, 3, 1] },
    { name: 'scalar', data: Float32Array.from([0.5]), shape: [] },
    { name: 'empty', data: new Int32Array(0), shape: [0, 5] },
  ];
}

/** mulberry32: a tiny seeded generator, so fuzz failures reproduce from the seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
