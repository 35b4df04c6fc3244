import {
  expectFloats,
  expectOnlyTensors,
  fromBfloat16,
  isProtocolError,
  TENSOR_NAMES,
  toBfloat16,
  type BodyFields,
  type DecodedMessage,
  type OutgoingBody,
  type TensorInput,
} from '@ddpm/protocol';
import type { BucketLayout } from '@ddpm/training';
import { GradientReducer } from '../gradient-reducer.ts';

type StepStart = BodyFields<'stepStart'>;
type GradientFields = BodyFields<'gradient'>;
type Contribution = NonNullable<BodyFields<'reducedGradient'>['contributions']>[number];
type PeerGradient = Extract<DecodedMessage, { kind: 'gradient' }>;

/** What the exchange asks its shell to send: to a peer worker (by id) or to the coordinator. */
export type ExchangeSend =
  | { readonly to: 'peer'; readonly peer: number; readonly body: OutgoingBody; readonly tensors: TensorInput[] }
  | { readonly to: 'coordinator'; readonly body: OutgoingBody; readonly tensors: TensorInput[] };

/**
 * A worker's side of the sharded topology, without sockets: routes each bucket of its gradient to the bucket's owner
 * (StepStart.bucket_owners) and, for the buckets it owns, sums the parts of every worker of the attempt (float64, the
 * coordinator's own GradientReducer) and hands the coordinator one ReducedGradient per bucket.
 *
 * Promises: a bucket is reduced once, when every worker of the attempt contributed; parts of an older attempt or step
 * are dropped, parts of a later one are kept until its StepStart (a faster peer may start first); the mean is the one
 * the coordinator would form from the same parts in the star, sent in the run's wire dtype.
 * Does not: connect, check parameter checksums (the coordinator checks every contribution's) or time anything out.
 */
export class ShardedExchange {
  private step = -1;
  private attempt = 0;
  private peers: number[] = [];
  private owners: readonly number[] = [];
  private readonly reducer: GradientReducer;
  private readonly widened: Float32Array;
  /** Per owned bucket of the attempt: worker id → what it contributed. */
  private contributions = new Map<number, Map<number, Contribution>>();
  private later: { from: number; message: PeerGradient }[] = [];

  constructor(
    readonly selfId: number,
    readonly layout: BucketLayout,
    private readonly wire: 'float32' | 'bfloat16',
  ) {
    this.reducer = new GradientReducer(layout);
    this.widened = new Float32Array(layout.largest);
  }

  /** The owner of `bucket` in the current attempt. */
  ownerOf(bucket: number): number {
    return this.owners[bucket];
  }

  /** True for the step and attempt in progress here. */
  isCurrent(step: number, attempt: number): boolean {
    return step === this.step && attempt === this.attempt;
  }

  /** A StepStart: forgets the previous attempt and takes in the parts that arrived early for this one. */
  begin(start: StepStart): ExchangeSend[] {
    this.step = start.step ?? 0;
    this.attempt = start.attempt ?? 0;
    this.peers = (start.peers ?? []).map((peer) => peer.workerId ?? 0);
    this.owners = start.bucketOwners ?? [];
    this.reducer.reset();
    this.contributions = new Map();
    const early = this.later;
    this.later = [];
    return early.flatMap(({ from, message }) => this.part(from, message).sends);
  }

  /** One bucket of this worker's gradient, as it would go to the coordinator in the star: to its owner, or summed here. */
  own(body: GradientFields, tensors: readonly TensorInput[]): ExchangeSend[] {
    const bucket = body.bucket ?? 0;
    const owner = this.owners[bucket];
    const gradient = { ...body, attempt: this.attempt };
    if (owner !== this.selfId) return [{ to: 'peer', peer: owner, body: { gradient }, tensors: [...tensors] }];
    const data = tensors[0]?.data;
    const part =
      data instanceof Uint16Array
        ? fromBfloat16(data, this.widened.subarray(0, data.length))
        : (data as Float32Array | undefined);
    return this.add(this.selfId, gradient, part);
  }

  /** A Gradient from peer `from`; `problem` says why it was dropped. */
  part(from: number, message: PeerGradient): { sends: ExchangeSend[]; problem?: string } {
    const body = message.body;
    if (body.step > this.step || (body.step === this.step && body.attempt > this.attempt)) {
      if (this.later.length < 4 * this.layout.count * Math.max(1, this.peers.length))
        this.later.push({ from, message });
      return { sends: [] };
    }
    if (!this.isCurrent(body.step, body.attempt))
      return { sends: [], problem: `a part of step ${body.step} attempt ${body.attempt} (an older attempt)` };
    if (body.bucket >= this.layout.count || this.owners[body.bucket] !== this.selfId)
      return { sends: [], problem: `a part of bucket ${body.bucket}, which this worker does not own` };
    if (!this.peers.includes(from))
      return { sends: [], problem: `a part from worker ${from}, not a peer of this step` };
    let part: Float32Array | undefined;
    try {
      const { start, end } = this.layout.range(body.bucket);
      expectOnlyTensors(message.tensors, body.allFinite ? [TENSOR_NAMES.gradient] : []);
      if (body.allFinite) part = expectFloats(message.tensors, TENSOR_NAMES.gradient, end - start, this.widened);
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      return { sends: [], problem: `a malformed part (${error.message})` };
    }
    return { sends: this.add(from, body, part) };
  }

  private add(from: number, body: GradientFields, part: Float32Array | undefined): ExchangeSend[] {
    const bucket = body.bucket ?? 0;
    let parts = this.contributions.get(bucket);
    if (parts === undefined) this.contributions.set(bucket, (parts = new Map()));
    if (parts.has(from)) return [];
    const finite =
      part !== undefined && Number.isFinite(body.loss) && this.reducer.add(bucket, part, body.samples ?? 0);
    parts.set(from, {
      ...{ workerId: from, samples: body.samples, loss: body.loss, allFinite: finite },
      ...{
        nonFiniteCount: finite ? 0 : Math.max(1, body.nonFiniteCount ?? 0),
        parameterChecksum: body.parameterChecksum,
      },
      timings: body.timings,
    });
    if (parts.size < this.peers.length) return [];
    return [this.reduced(bucket, parts)];
  }

  private reduced(bucket: number, parts: Map<number, Contribution>): ExchangeSend {
    const contributions = this.peers.map((id) => parts.get(id) as Contribution);
    const finite = contributions.every((c) => c.allFinite) && this.reducer.samplesOf(bucket) > 0;
    const tensors: TensorInput[] = [];
    if (finite) {
      const mean = this.reducer.mean(bucket);
      const data = this.wire === 'bfloat16' ? toBfloat16(mean) : mean;
      tensors.push({ name: TENSOR_NAMES.gradient, data, shape: [mean.length] });
    }
    const body = { reducedGradient: { step: this.step, attempt: this.attempt, bucket, contributions } };
    return { to: 'coordinator', body, tensors };
  }
}
