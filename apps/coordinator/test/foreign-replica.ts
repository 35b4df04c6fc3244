// The coordinator-facing half of a foreign worker (see foreign-peer.ts): a replica kept by the documented rules.
import { wire, type StepStart, type Update, type UpdateBucket, type Welcome } from '@ddpm/protocol';
import { checksumOf, floatBytes, floatsOf, type ForeignPeer, type Received } from './foreign-peer.ts';

const { UpdateKind, DType } = wire;

interface Bodies {
  readonly welcome: Welcome;
  readonly stepStart: StepStart;
  readonly updateBucket: UpdateBucket;
  readonly update: Update;
}

/** What a foreign worker keeps: its parameters, the step's UpdateBuckets, the bucket layout, the last StepStart. */
export class ForeignReplica {
  params: Float32Array = new Float32Array(0);
  private next: Float32Array = new Float32Array(0);
  starts: number[] = [];
  start: StepStart | undefined;

  /**
   * @param value element `index` of the gradient this worker sends at `step` (0 everywhere unless given).
   */
  constructor(
    readonly peer: ForeignPeer,
    readonly value: (index: number, step: number) => number = () => 0,
  ) {}

  /** Applies Welcome, StepStart, UpdateBucket and Update as docs/protocol.md says; throws on a checksum mismatch. */
  readonly apply = (m: Received): void => {
    // Decoded bodies hold every field (proto3 defaults), as the generated classes promise.
    const { welcome, stepStart, updateBucket, update } = m.envelope as unknown as Partial<Bodies>;
    const frame = m.tensors.get('parameters')?.bytes;
    if (welcome != null) {
      this.params = floatsOf(frame ?? new Uint8Array(0));
      this.starts = welcome.bucketStarts;
      this.peer.workerId = welcome.workerId;
      this.peer.runId = welcome.runId;
      this.check(welcome.parameterChecksum, 'Welcome');
    } else if (stepStart != null) {
      this.start = stepStart;
      this.check(stepStart.parameterChecksum, `StepStart ${stepStart.step}`);
    } else if (updateBucket != null) {
      this.next.set(floatsOf(frame ?? new Uint8Array(0)), this.starts[updateBucket.bucket]);
      return;
    } else if (update != null && !update.skipped) {
      if (update.kind === UpdateKind.BUCKETS) this.params = this.next.slice();
      if (update.kind === UpdateKind.PARAMETERS) this.params = floatsOf(frame ?? new Uint8Array(0));
      this.check(update.parameterChecksum, `Update ${update.step}`);
    } else return;
    this.next = this.params.slice();
  };

  private check(expected: number, what: string): void {
    if (expected !== 0 && expected >>> 0 !== checksumOf(this.params))
      throw new Error(`${what}: parameter checksum differs from the foreign replica's`);
  }

  /** Sends bucket `bucket` of a zero gradient for the last StepStart; `fields` override body fields. */
  gradient(bucket: number, fields: Record<string, unknown> = {}): Promise<number> {
    const start = this.start;
    if (start === undefined) throw new Error('no StepStart yet');
    const end = bucket + 1 < this.starts.length ? this.starts[bucket + 1] : this.params.length;
    const bytes = floatBytes(this.gradientOf(bucket));
    const body = {
      ...{ step: start.step, samples: start.indices.length, loss: 0.25, gradientNorm: 0, allFinite: true, bucket },
      ...{ parameterChecksum: checksumOf(this.params), ...fields },
    };
    const tensor = { name: 'gradient', shape: [end - this.starts[bucket]], dtype: DType.FLOAT32, bytes };
    return this.peer.send({ gradient: body }, [tensor]);
  }

  /** Bucket `bucket` of the gradient this worker contributes in the current step: {@link value} per element. */
  gradientOf(bucket: number): Float32Array {
    const end = bucket + 1 < this.starts.length ? this.starts[bucket + 1] : this.params.length;
    const step = this.start?.step ?? 0;
    return Float32Array.from({ length: end - this.starts[bucket] }, (_, i) =>
      this.value(this.starts[bucket] + i, step),
    );
  }

  async wholeGradient(): Promise<void> {
    for (let bucket = this.starts.length - 1; bucket >= 0; bucket--) await this.gradient(bucket);
  }

  /** Waits for a message of body `kind` (matching `also`), applying it and everything before it. */
  async expect(
    kind: string,
    also: (m: Received) => boolean = () => true,
    every?: () => Promise<unknown>,
  ): Promise<Received> {
    const message = await this.peer.next(kind, (m) => m.envelope.body === kind && also(m), { skip: this.apply, every });
    this.apply(message);
    return message;
  }
}

export const hello = (name: string, resume?: Record<string, unknown>) => ({
  hello: { protocolVersion: 1, workerName: name, backend: 'foreign', capabilities: { hasDataset: false }, resume },
});
