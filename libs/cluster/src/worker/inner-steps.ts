import type { Logger } from 'pino';
import { splitGlobalBatch } from '@ddpm/data';
import {
  expectTensor,
  findTensor,
  isProtocolError,
  TENSOR_NAMES,
  type DecodedMessage,
  type DecodedTensor,
  type TensorInput,
} from '@ddpm/protocol';
import { Adam, clipScale, globalNorm, learningRateAt, type AdamOptions, type AdamState } from '@ddpm/training';
import type { GradientJob, GradientSource } from './gradient-source.ts';
import type { Replica } from './replica.ts';

type StepStart = Extract<DecodedMessage, { kind: 'stepStart' }>;

/** The step key of inner step `h` of outer step `step` with H = `syncEvery`: samples are drawn keyed by it. */
export function innerStepKey(step: number, syncEvery: number, h: number): number {
  return step * syncEvery + h;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The worker's side of the low-communication mode (--sync-every H, DiLoCo): a gradient source around another one.
 * With Welcome.sync_every ≤ 1 it only hands the job on (synchronous training, unchanged). With H > 1 a StepStart's
 * indices are H local batches (split contiguously, as splitGlobalBatch splits a global batch); for each, the wrapped
 * source computes the gradient at this worker's own copy of the parameters, and one inner Adam step follows (the run's
 * --lr with its warm-up at inner step s·H + h, --clip on the local gradient, the run's Adam settings). Each inner step's
 * samples are drawn keyed by (seed, s·H + h, index). Then the outer gradient, the parameters at the start minus those at
 * the end, goes out through the ordinary Gradient buckets (so --wire-dtype and bucketing apply), with the batch's mean
 * loss over the inner steps; when the StepStart asks (inner_state_wanted), each bucket also carries its inner moments.
 *
 * The inner Adam state lives here, across outer steps, for as long as the worker stays in the same run; a StepStart
 * carrying "inner_m" (the first after a coordinator resumed) replaces it. A non-finite inner gradient skips that inner
 * step only (logged). Does not: touch the replica's parameters (the coordinator's outer step changes them).
 */
export class InnerSteps implements GradientSource {
  private adam: Adam | undefined;
  private runId = '';
  private local = new Float32Array(0);
  private scratch = new Float32Array(0);

  constructor(
    private readonly source: GradientSource,
    private readonly log: Logger,
  ) {}

  async compute(job: GradientJob): Promise<void> {
    const { replica, start, indices, timing } = job;
    const syncEvery = replica.syncEvery;
    if (syncEvery <= 1) return this.source.compute(job);
    const settings = innerSettings(replica);
    const adam = this.innerAdam(replica, start, settings.adam);
    const size = replica.params.length;
    if (this.local.length !== size) [this.local, this.scratch] = [new Float32Array(size), new Float32Array(size)];
    const { local, scratch } = this;
    local.set(replica.params);
    const view = replica.innerView(local, scratch);
    let [lossSum, samples, offset] = [0, 0, 0];
    timing.dataMs = 0;
    for (const [h, chunk] of splitGlobalBatch(indices, syncEvery).entries()) {
      const key = innerStepKey(start.body.step, syncEvery, h);
      const innerTiming = { dataMs: 0 };
      let loss = Number.NaN;
      const innerStart = innerStepStart(start, key, offset, chunk.length);
      offset += chunk.length;
      if (chunk.length === 0) continue;
      const onBucket = (_bucket: number, batchLoss: number): void => void (loss = batchLoss);
      await this.source.compute({ replica: view, start: innerStart, indices: chunk, onBucket, timing: innerTiming });
      timing.dataMs += innerTiming.dataMs;
      if (this.step(adam, settings, key, scratch, loss))
        [lossSum, samples] = [lossSum + loss * chunk.length, samples + chunk.length];
      await yieldToEventLoop(); // heartbeats and the coordinator's messages between inner steps
    }
    const outer = replica.gradient;
    const params = replica.params;
    for (let i = 0; i < size; i++) outer[i] = params[i] - local[i];
    const extra = start.body.innerStateWanted ? innerStateTensors(adam, start, replica) : undefined;
    const loss = samples > 0 ? lossSum / samples : Number.NaN;
    for (let bucket = replica.layout.count - 1; bucket >= 0; bucket--) job.onBucket(bucket, loss, extra?.(bucket));
  }

  /** One inner Adam step on this.local; false (and nothing changed) when the gradient or loss is not finite. */
  private step(adam: Adam, settings: InnerSettings, key: number, gradient: Float32Array, loss: number): boolean {
    const norm = globalNorm(gradient);
    if (!Number.isFinite(norm) || !Number.isFinite(loss)) {
      this.log.warn({ innerStep: key, norm, loss }, `inner step ${key} skipped: its gradient or loss is not finite`);
      return false;
    }
    const scale = settings.clip > 0 ? clipScale(norm, settings.clip) : 1;
    adam.step(this.local, gradient, learningRateAt(settings.lr, settings.warmup, key), scale);
    return true;
  }

  /** The inner Adam of this run: kept across outer steps, replaced by a handed-back state, fresh for a new run. */
  private innerAdam(replica: Replica, start: StepStart, options: AdamOptions): Adam {
    const size = replica.params.length;
    const handed = adoptedInnerState(start, size);
    if (handed !== undefined) {
      this.log.info(
        { step: start.body.step, count: handed.count },
        'adopted the inner optimizer state the coordinator handed back',
      );
      this.adam = new Adam(size, options, handed);
    } else if (this.adam === undefined || this.runId !== replica.runId || this.adam.size !== size) {
      this.adam = new Adam(size, options);
    }
    this.runId = replica.runId;
    return this.adam;
  }
}

/**
 * The StepStart an inner step hands the wrapped source: the same message seen through a prototype (so protobuf's
 * defaults stay readable), with the inner step's key as its step and, for inline samples, only this chunk's frames.
 */
function innerStepStart(start: StepStart, key: number, offset: number, count: number): StepStart {
  const body = Object.assign(Object.create(start.body) as StepStart['body'], { step: key });
  const tensors = start.body.samplesInline ? start.tensors.map((t) => rows(t, offset, count)) : start.tensors;
  return { ...start, body, tensors };
}

/** Rows [offset, offset + count) of a batch tensor (samples or labels); other tensors unchanged. */
function rows(tensor: DecodedTensor, offset: number, count: number): DecodedTensor {
  if (tensor.name !== TENSOR_NAMES.samples && tensor.name !== TENSOR_NAMES.labels) return tensor;
  const [batch, ...rest] = tensor.shape;
  const size = rest.reduce((product, d) => product * d, 1);
  if (batch === undefined) return tensor;
  return { ...tensor, shape: [count, ...rest], data: tensor.data.subarray(offset * size, (offset + count) * size) };
}

/** Per bucket: its inner moments and [count, shard index, shard count], for a StepStart with inner_state_wanted. */
function innerStateTensors(adam: Adam, start: StepStart, replica: Replica): (bucket: number) => TensorInput[] {
  const { m, v, count } = adam.state();
  const ids = Int32Array.of(count, start.body.shardIndex, start.body.shardCount);
  return (bucket) => {
    const { start: from, end } = replica.layout.range(bucket);
    return [
      { name: TENSOR_NAMES.innerM, data: m.subarray(from, end), shape: [end - from] },
      { name: TENSOR_NAMES.innerV, data: v.subarray(from, end), shape: [end - from] },
      { name: TENSOR_NAMES.innerCount, data: ids, shape: [3] },
    ];
  };
}

/** The inner optimiser of --sync-every: the run's --lr, --warmup, --clip and Adam settings, as the Welcome says. */
export interface InnerSettings {
  readonly lr: number;
  readonly warmup: number;
  /** Clip each inner step's local gradient to this global norm (0: no clipping). */
  readonly clip: number;
  readonly adam: AdamOptions;
}

/** The inner settings from the replica's Welcome.hyper_parameters; an Error saying what to do when it has none. */
export function innerSettings(replica: Replica): InnerSettings {
  const hyper = replica.hyper;
  if (hyper == null)
    throw new Error(
      'The Welcome asked for inner steps (sync_every > 1) but carried no hyper_parameters; run the same ddpm version on the coordinator and the workers.',
    );
  return {
    lr: hyper.learningRate ?? 0,
    warmup: hyper.warmupSteps ?? 0,
    clip: hyper.gradientClipNorm ?? 0,
    adam: { beta1: hyper.adamBeta1 ?? 0, beta2: hyper.adamBeta2 ?? 0, epsilon: hyper.adamEpsilon ?? 0 },
  };
}

/**
 * The inner state a StepStart hands back (frames "inner_m", "inner_v" FLOAT32 [size], "inner_count" INT32 [1]), or
 * undefined when it carries none. Throws an Error naming the problem when the frames are malformed.
 */
export function adoptedInnerState(start: StepStart, size: number): AdamState | undefined {
  if (findTensor(start.tensors, TENSOR_NAMES.innerM) === undefined) return undefined;
  try {
    const m = expectTensor(start.tensors, TENSOR_NAMES.innerM, [size], 'float32');
    const v = expectTensor(start.tensors, TENSOR_NAMES.innerV, [size], 'float32');
    const [count] = expectTensor(start.tensors, TENSOR_NAMES.innerCount, [1], 'int32');
    return { m, v, count };
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    throw new Error(
      `The StepStart of step ${start.body.step} handed back a malformed inner state (${error.message}); run the same ddpm version on the coordinator and the workers.`,
    );
  }
}
