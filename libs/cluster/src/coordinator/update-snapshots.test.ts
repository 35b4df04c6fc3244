import test from 'ava';
import { UpdateSnapshots } from './update-snapshots.ts';

const params = (value: number): Float32Array => new Float32Array(3).fill(value);

test('a snapshot is a copy, reused only after every recipient confirmed a gradient', (t) => {
  const snapshots = new UpdateSnapshots(3);
  const source = params(1);
  const first = snapshots.take(source, [1, 2]);
  source.fill(9);
  t.deepEqual(Array.from(first), [1, 1, 1], 'later changes to the parameters do not reach the snapshot');
  const second = snapshots.take(params(2), [1, 2]);
  t.not(second, first, 'an unconfirmed snapshot is not overwritten');
  snapshots.confirm(1);
  const third = snapshots.take(params(3), [1, 2]);
  t.not(third, first, 'one of two recipients is not enough');
  snapshots.confirm(2);
  t.is(snapshots.pending, 1, 'the third snapshot still waits for worker 1');
  const reused = snapshots.take(params(4), [1]);
  t.true(reused === first || reused === second, 'a confirmed buffer is handed out again');
  t.not(reused, third);
  t.deepEqual(Array.from(reused), [4, 4, 4]);
});

test('a snapshot sent to a worker that left is never reused', (t) => {
  const snapshots = new UpdateSnapshots(3);
  const sent = snapshots.take(params(1), [1, 2]);
  snapshots.abandon(2);
  snapshots.confirm(1);
  t.is(snapshots.pending, 0);
  for (let i = 0; i < 5; i++) {
    const next = snapshots.take(params(i), [1]);
    t.not(next, sent);
    snapshots.confirm(1);
  }
});

test('a worker that never confirms cannot make the outstanding list grow without bound', (t) => {
  const snapshots = new UpdateSnapshots(3, 2);
  const taken = Array.from({ length: 10 }, (_, i) => snapshots.take(params(i), [7]));
  t.is(snapshots.pending, 2);
  t.is(new Set(taken).size, 10, 'abandoned snapshots are not recycled either');
});

test('a snapshot of the wrong size is refused', (t) => {
  t.throws(() => new UpdateSnapshots(3).take(new Float32Array(2), [1]), { message: /2 parameters for snapshots of 3/ });
});
