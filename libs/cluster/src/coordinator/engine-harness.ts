import pino from 'pino';
import { createDataset } from '@ddpm/data';
import {
  DEFAULT_LIMITS,
  decodeMessage,
  encodeMessage,
  nextSequence,
  TENSOR_NAMES,
  type DecodedMessage,
  type OutgoingBody,
  type TensorInput,
} from '@ddpm/protocol';
import { DEFAULT_OPTIMIZER, type RunConfig } from '@ddpm/training';
import { Replica } from '../worker/replica.ts';
import type { CoordinatorAction } from './actions.ts';
import { CoordinatorEngine, type EngineOptions } from './coordinator-engine.ts';

/** Test support: an engine on a synthetic 64-image dataset (mnist-tiny, 16 KiB buckets) with a settable clock. */
export function testEngine(overrides: Partial<EngineOptions> = {}, runOverrides: Partial<RunConfig> = {}) {
  const clock = { ms: 0 };
  const run: RunConfig = {
    ...{ preset: 'mnist-tiny', steps: 10, batch: 3, seed: 7, out: '/nonexistent', optimizer: DEFAULT_OPTIMIZER },
    ...{ schedule: { kind: 'linear', timesteps: 100 }, sampleEvery: 0, sampleCount: 1, sampleSteps: 1 },
    ...runOverrides,
  };
  const images = Uint8Array.from({ length: 64 * 28 * 28 }, (_, i) => (i * 7) % 256);
  const dataset = createDataset({ name: 'synthetic', count: 64, height: 28, width: 28, channels: 1, images });
  const engine = new CoordinatorEngine(
    {
      ...{ run, minWorkers: 2, maxWorkers: 4, limits: DEFAULT_LIMITS, log: pino({ level: 'silent' }) },
      ...{ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000, straggler: { factor: 2, exclude: false } },
      ...{ bucketBytes: 16 * 1024, now: () => clock.ms },
      ...overrides,
    },
    dataset,
  );
  return { engine, clock, dataset };
}

/** One action as a short line, e.g. `stepStart→1`, `updateBucket→2 b3`, `update→1 BUCKETS`, `record`. */
export function describe(action: CoordinatorAction): string {
  switch (action.kind) {
    case 'send':
    case 'reply': {
      const [kind, body] = Object.entries(action.message.body)[0] as [string, Record<string, unknown>];
      const to = action.kind === 'send' ? `→${action.to.id}` : '→stranger';
      const detail =
        kind === 'updateBucket'
          ? ` b${String(body.bucket)}`
          : kind === 'update'
            ? ` ${body.skipped ? 'skipped' : body.kind === 1 ? 'PARAMETERS' : 'BUCKETS'}`
            : kind === 'error'
              ? ` ${String(body.code)}`
              : '';
      return `${kind}${to}${detail}`;
    }
    default:
      return action.kind;
  }
}

/**
 * A scripted worker on one connection: it numbers its messages like a real one, keeps a real {@link Replica} from
 * the engine's Welcome, UpdateBuckets and Updates, and sends gradients of a chosen value on it.
 */
export class ScriptedWorker {
  readonly identity: Buffer;
  private sequence = 0;
  replica: Replica | undefined;
  /** The last StepStart it was sent. */
  start: Extract<DecodedMessage, { kind: 'stepStart' }> | undefined;

  constructor(
    private readonly engine: CoordinatorEngine,
    readonly name: string,
  ) {
    this.identity = Buffer.from(name);
  }

  /** Sends a message with the next sequence number (or `sequence`), as this worker. */
  say(body: OutgoingBody, tensors: readonly TensorInput[] = [], sequence?: number): CoordinatorAction[] {
    if (sequence === undefined) this.sequence = nextSequence(this.sequence);
    const workerId = 'hello' in body ? 0 : (this.replica?.workerId ?? 0);
    const runId = 'hello' in body ? '' : (this.replica?.runId ?? '');
    const envelope = { workerId, runId, sequence: sequence ?? this.sequence, ...body };
    return this.engine.receive(this.identity, decodeMessage(encodeMessage(envelope, tensors)));
  }

  hello(): CoordinatorAction[] {
    return this.say({ hello: { protocolVersion: 1, workerName: this.name, backend: 'cpu', capabilities: {} } });
  }

  /** Takes what the engine sent this worker (Welcome, StepStart, UpdateBucket, Update) into its replica. */
  receive(actions: readonly CoordinatorAction[]): void {
    const { runId } = this.engine.state.description;
    for (const action of actions) {
      if (action.kind !== 'send' || !action.to.identity.equals(this.identity)) continue;
      const envelope = { workerId: action.to.id, runId, sequence: 1, ...action.message.body };
      const message = decodeMessage(encodeMessage(envelope, action.message.tensors));
      if (message.kind === 'welcome') this.replica = Replica.fromWelcome(message, this.replica);
      if (message.kind === 'stepStart') {
        this.start = message;
        this.replica?.beginStep(message.body.step, message.body.parameterChecksum);
      }
      if (message.kind === 'updateBucket') this.replica?.updateBucket(message);
      if (message.kind === 'update') this.replica?.update(message);
    }
  }

  /** Sends bucket `bucket` of a gradient whose every value is `value`, for the step it was last started on. */
  gradient(bucket: number, value = 1e-5, overrides: { step?: number; checksum?: number } = {}): CoordinatorAction[] {
    const replica = this.replica;
    const start = this.start;
    if (replica === undefined || start === undefined) throw new Error(`${this.name} was not started`);
    const data = new Float32Array(replica.layout.size(bucket)).fill(value);
    const finite = Number.isFinite(value);
    return this.say(
      {
        gradient: {
          ...{ step: overrides.step ?? start.body.step, samples: start.body.indices.length, loss: 0.5, bucket },
          ...{ gradientNorm: 0, allFinite: finite, parameterChecksum: overrides.checksum ?? replica.checksum() },
        },
      },
      finite ? [{ name: TENSOR_NAMES.gradient, data, shape: [data.length] }] : [],
    );
  }

  /** Every bucket of the step's gradient, last bucket first; returns the engine's actions for each, concatenated. */
  wholeGradient(value = 1e-5): CoordinatorAction[] {
    const buckets = this.replica?.layout.count ?? 0;
    const actions: CoordinatorAction[] = [];
    for (let b = buckets - 1; b >= 0; b--) actions.push(...this.gradient(b, value));
    return actions;
  }
}
