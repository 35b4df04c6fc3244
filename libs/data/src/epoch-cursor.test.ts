import test from 'ava';
import { EpochCursor, type CursorBatch } from './epoch-cursor.ts';
import { epochPermutation } from './sharding.ts';

test("tail 'short': each epoch hands out its permutation exactly once, batches never span epochs", (t) => {
  const cursor = new EpochCursor(23, 5);
  const handedOut: number[][] = [[], [], [], []];
  const sizes = [5, 7, 3];
  let calls = 0;
  while (cursor.epoch < 4) {
    const batch = cursor.next(sizes[calls++ % sizes.length]);
    handedOut[batch.epoch].push(...batch.indices);
    t.is(batch.start + batch.indices.length === 23, batch.epochEnded);
    t.is(cursor.position, batch.epochEnded ? 0 : batch.start + batch.indices.length);
  }
  for (let epoch = 0; epoch < 4; epoch++) t.deepEqual(handedOut[epoch], Array.from(epochPermutation(5, epoch, 23)));
});

test("tail 'drop': every batch is full and only the tail of each epoch is skipped", (t) => {
  const cursor = new EpochCursor(10, 9, { tail: 'drop' });
  const batches = Array.from({ length: 7 }, () => cursor.next(4));
  t.true(batches.every((b) => b.indices.length === 4));
  t.deepEqual(
    batches.map((b) => [b.epoch, b.start]),
    [
      [0, 0],
      [0, 4],
      [1, 0],
      [1, 4],
      [2, 0],
      [2, 4],
      [3, 0],
    ],
  );
  t.deepEqual(Array.from(batches[2].indices), Array.from(epochPermutation(9, 1, 10).subarray(0, 4)));
  // A batch that exactly finishes an epoch ends it.
  const exact = new EpochCursor(8, 9, { tail: 'drop' });
  t.true(exact.next(4).epochEnded === false && exact.next(4).epochEnded);
  t.is(exact.epoch, 1);
  t.throws(() => exact.next(9), { message: /a batch of 9 cannot be filled from an epoch of 8 examples/ });
});

const resumesExactly = test.macro({
  exec(t, tail: 'short' | 'drop', stepsBeforeSave: number) {
    const sizes = [6, 2, 9, 4];
    const original = new EpochCursor(17, 123, { tail });
    for (let s = 0; s < stepsBeforeSave; s++) original.next(sizes[s % sizes.length]);
    const saved = JSON.parse(JSON.stringify(original.state())) as ReturnType<EpochCursor['state']>;
    const restored = EpochCursor.fromState(saved);
    t.deepEqual(restored.state(), original.state());
    const strip = (b: CursorBatch): [number, number, number[], boolean] => [
      b.epoch,
      b.start,
      Array.from(b.indices),
      b.epochEnded,
    ];
    for (let s = stepsBeforeSave; s < stepsBeforeSave + 25; s++) {
      const n = sizes[s % sizes.length];
      t.deepEqual(strip(restored.next(n)), strip(original.next(n)));
    }
  },
  title: (_ = '', tail: string, steps: number) =>
    `a cursor (tail ${tail}) saved after ${steps} steps resumes identically`,
});

test(resumesExactly, 'short', 0);
test(resumesExactly, 'short', 3);
test(resumesExactly, 'short', 11);
test(resumesExactly, 'drop', 5);

test('the state is mid-epoch JSON and a damaged state is refused', (t) => {
  const cursor = new EpochCursor(17, 123);
  cursor.next(6);
  t.deepEqual(cursor.state(), { count: 17, seed: 123, epoch: 0, position: 6, tail: 'short' });
  t.is(cursor.remaining(), 11);
  t.throws(() => EpochCursor.fromState({ count: 17, seed: 123, epoch: 0, position: 17, tail: 'short' }), {
    message: /position 17 is outside \[0, 17\).*dataset of another size/,
  });
  t.throws(() => EpochCursor.fromState({ count: 17, seed: 123, epoch: -1, position: 0, tail: 'short' }), {
    message: /epoch must be a non-negative integer/,
  });
  t.is(EpochCursor.fromState(cursor.state(), 17).position, 6);
  t.throws(() => EpochCursor.fromState(cursor.state(), 60000), {
    message: /dataset of 17 examples but the dataset has 60000.*start a new run/,
  });
  t.throws(() => cursor.next(0), { message: /n must be a positive integer/ });
});
