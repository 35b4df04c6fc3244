import test from 'ava';
import {
  decodeMessage,
  DEFAULT_LIMITS,
  encodeMessage,
  fromBfloat16,
  toBfloat16,
  type DecodedMessage,
  type TensorInput,
} from '@ddpm/protocol';
import { BucketLayout } from '@ddpm/training';
import { ShardedExchange, type ExchangeSend } from './sharded-exchange.ts';

type PeerGradient = Extract<DecodedMessage, { kind: 'gradient' }>;

const layout = new BucketLayout([0, 2, 5], 6); // buckets of 2, 3 and 1 parameters
const start = (attempt = 0, step = 4) => ({
  step,
  attempt,
  peers: [{ workerId: 1 }, { workerId: 2 }],
  bucketOwners: [1, 2, 1],
});
const fields = (bucket: number, samples: number, step = 4, attempt = 0) => ({
  ...{ step, attempt, bucket, samples, loss: 0.5, allFinite: true, parameterChecksum: 7, gradientNorm: 1 },
});
const frame = (values: number[]): TensorInput[] => [
  { name: 'gradient', data: Float32Array.from(values), shape: [values.length] },
];

/** A Gradient as worker `from` sends it over the wire. */
function peerPart(from: number, body: ReturnType<typeof fields>, values: number[]) {
  const frames = encodeMessage({ workerId: from, sequence: 1, runId: 'r', gradient: body }, frame(values));
  return decodeMessage(frames, DEFAULT_LIMITS) as Extract<DecodedMessage, { kind: 'gradient' }>;
}

function reducedMean(send: ExchangeSend): number[] {
  return Array.from(send.tensors[0].data as Float32Array);
}

test('a part of a bucket owned elsewhere goes to its owner; an owned bucket is reduced once every peer sent it', (t) => {
  const exchange = new ShardedExchange(1, layout, 'float32');
  t.deepEqual(exchange.begin(start()), []);
  const routed = exchange.own(fields(1, 3), frame([1, 2, 3]));
  t.is(routed.length, 1);
  t.like(routed[0], { to: 'peer', peer: 2 });
  t.deepEqual(exchange.own(fields(0, 3), frame([1, 1])), [], 'waits for worker 2');
  const { sends, problem } = exchange.part(2, peerPart(2, fields(0, 1), [5, -3]));
  t.is(problem, undefined);
  t.is(sends.length, 1);
  t.is(sends[0].to, 'coordinator');
  // Σ samplesᵢ·gᵢ / Σ samplesᵢ: (3·1 + 1·5) / 4 and (3·1 − 1·3) / 4.
  t.deepEqual(reducedMean(sends[0]), [2, 0]);
  const body = (sends[0].body as { reducedGradient: { contributions: { workerId: number }[] } }).reducedGradient;
  t.deepEqual(
    body.contributions.map((c) => c.workerId),
    [1, 2],
  );
  t.deepEqual(exchange.part(2, peerPart(2, fields(0, 1), [5, -3])).sends, [], 'a duplicate is not reduced twice');
});

test('parts of another bucket, a stranger, an older attempt are dropped; a later attempt waits for its StepStart', (t) => {
  const exchange = new ShardedExchange(1, layout, 'float32');
  exchange.begin(start(1));
  t.regex(exchange.part(2, peerPart(2, fields(1, 1, 4, 1), [1, 2, 3])).problem ?? '', /does not own/);
  t.regex(exchange.part(3, peerPart(3, fields(0, 1, 4, 1), [1, 2])).problem ?? '', /not a peer/);
  t.regex(exchange.part(2, peerPart(2, fields(0, 1, 4, 0), [1, 2])).problem ?? '', /older attempt/);
  t.deepEqual(exchange.part(2, peerPart(2, fields(2, 2, 4, 2), [4])), { sends: [] });
  t.deepEqual(exchange.begin(start(2)), [], 'kept, but worker 1 has not sent its own part yet');
  const sends = exchange.own(fields(2, 2, 4, 2), frame([2]));
  t.deepEqual(reducedMean(sends[0]), [3]);
});

test('a non-finite part makes the reduced bucket frameless and says who', (t) => {
  const exchange = new ShardedExchange(1, layout, 'float32');
  exchange.begin(start());
  exchange.own({ ...fields(2, 1), allFinite: false, nonFiniteCount: 1 }, []);
  const { sends } = exchange.part(2, peerPart(2, fields(2, 1), [1]));
  t.deepEqual(sends[0].tensors, []);
  const body = (sends[0].body as { reducedGradient: { contributions: { allFinite: boolean }[] } }).reducedGradient;
  t.deepEqual(
    body.contributions.map((c) => c.allFinite),
    [false, true],
  );
});

test('bfloat16 wire: an owned bucket smaller than the largest is widened and reduced (not only the largest size)', (t) => {
  const exchange = new ShardedExchange(1, layout, 'bfloat16');
  exchange.begin(start());
  // Bucket 2 (1 parameter) is owned here; the largest bucket has 3. Values exact in bfloat16.
  const own = [{ name: 'gradient', data: toBfloat16(Float32Array.from([2])), shape: [1] }];
  t.deepEqual(exchange.own(fields(2, 1), own), [], 'waits for worker 2');
  const frames = encodeMessage({ workerId: 2, sequence: 1, runId: 'r', gradient: fields(2, 1) }, [
    { name: 'gradient', data: toBfloat16(Float32Array.from([4])), shape: [1] },
  ]);
  const { sends, problem } = exchange.part(2, decodeMessage(frames, DEFAULT_LIMITS) as PeerGradient);
  t.is(problem, undefined);
  t.deepEqual(Array.from(fromBfloat16(sends[0].tensors[0].data as Uint16Array)), [3]);
});
