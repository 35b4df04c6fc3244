import test from 'ava';
import { workerLedger, type WorkerLog } from './worker-ledger.ts';

const received = (step: number, indices: number[], epoch = 0) => ({ msg: 'step received', step, epoch, indices });
const applied = (step: number, samples: number, checksum = 7) => ({ msg: 'update applied', step, samples, checksum });

test('a step counts the shards of the workers that applied it, plus those of absent workers the sample count needs', (t) => {
  const logs: WorkerLog[] = [
    // Step 0: both apply. Step 1: b dies before its gradient counted (4 samples). Step 2: c dies after it counted (6).
    { worker: 'a', records: [received(0, [0, 1]), applied(0, 4), received(1, [4, 5]), applied(1, 2)] },
    { worker: 'b', records: [received(0, [2, 3]), applied(0, 4), received(1, [6, 7])] },
    { worker: 'a2', records: [received(2, [6, 7], 1), applied(2, 4, 9)] },
    { worker: 'c', records: [received(2, [8, 9], 1)] },
  ];
  const ledger = workerLedger(logs);
  t.deepEqual(ledger.problems, []);
  t.deepEqual(ledger.consumedByEpoch.get(0), [0, 1, 2, 3, 4, 5]);
  t.deepEqual(ledger.consumedByEpoch.get(1), [6, 7, 8, 9]);
  t.deepEqual([...ledger.checksumsByStep.get(2)!], [9]);
});

test('replicas that disagree, or sample counts no shard set explains, are reported', (t) => {
  const ledger = workerLedger([
    { worker: 'a', records: [received(0, [0]), applied(0, 2, 1), received(1, [1]), applied(1, 5)] },
    { worker: 'b', records: [received(0, [2]), applied(0, 2, 2), received(1, [3])] },
  ]);
  t.deepEqual([...ledger.checksumsByStep.get(0)!], [1, 2]);
  t.is(ledger.problems.length, 1);
  t.regex(ledger.problems[0], /^step 1: the Update counts 5 samples; the workers that applied it received 1/);
});
