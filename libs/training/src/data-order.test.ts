import test from 'ava';
import { epochPermutation } from '@ddpm/data';
import { Rng } from '@ddpm/diffusion-core';
import { DataOrder } from './data-order.ts';

/** Runs `steps` batches of random sizes, giving back a random part of each; returns the consumed indices per epoch. */
function consume(
  order: DataOrder,
  steps: number,
  rng: Rng,
  onStep?: (step: number) => DataOrder | void,
): Map<number, number[]> {
  const consumed = new Map<number, number[]>();
  let current = order;
  for (let step = 0; step < steps; step++) {
    const { epoch, indices } = current.next(1 + rng.int(7));
    checkBatch(epoch, indices);
    const lost = indices.filter(() => rng.uniform() < 0.3);
    const kept = Array.from(indices).filter((i) => !lost.includes(i));
    current.giveBack(epoch, lost);
    consumed.set(epoch, [...(consumed.get(epoch) ?? []), ...kept]);
    current = onStep?.(step) ?? current;
  }
  return consumed;
}

function checkBatch(epoch: number, indices: Uint32Array): void {
  if (!(epoch >= 0) || indices.length === 0) throw new Error(`empty batch of epoch ${epoch}`);
}

test('with random failures every finished epoch consumes exactly its permutation, in permutation order when nothing fails', (t) => {
  const count = 23;
  const consumed = consume(DataOrder.start(count, 5), 120, new Rng(1));
  const finished = [...consumed.keys()].sort((a, b) => a - b).slice(0, -1);
  t.true(finished.length >= 3, `only ${finished.length} finished epochs`);
  for (const epoch of finished) {
    t.deepEqual(
      [...(consumed.get(epoch) ?? [])].sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
      `epoch ${epoch}`,
    );
  }
  const clean = DataOrder.start(count, 5);
  const first = [clean.next(10), clean.next(10), clean.next(10)];
  t.deepEqual(
    first.map((b) => b.indices.length),
    [10, 10, 3],
    'the last batch of an epoch is short',
  );
  t.deepEqual(
    first.flatMap((b) => Array.from(b.indices)),
    Array.from(epochPermutation(5, 0, count)),
  );
});

test('given-back indices come out first, never mixed with another epoch', (t) => {
  const order = DataOrder.start(6, 2);
  const permutation = Array.from(epochPermutation(2, 0, 6));
  const a = order.next(4);
  const b = order.next(4);
  t.deepEqual(Array.from(b.indices), permutation.slice(4), 'short batch at the end of epoch 0');
  order.giveBack(0, [permutation[5]]);
  t.is(order.epoch, 0, 'a carry keeps the order in the old epoch');
  const c = order.next(4);
  t.deepEqual(
    { epoch: c.epoch, indices: Array.from(c.indices) },
    { epoch: 0, indices: [permutation[5]] },
    'the carry alone, not padded from epoch 1',
  );
  t.is(order.next(2).epoch, 1);
  t.is(a.epoch, 0);
  t.throws(
    () => {
      order.giveBack(0, [1]);
      order.giveBack(1, [2]);
    },
    { message: /still waiting/ },
  );
});

test('state() and fromState() continue with identical batches, mid-epoch and with a carry', (t) => {
  const rng = new Rng(3);
  const original = DataOrder.start(17, 9);
  original.next(5);
  original.giveBack(0, [original.next(4).indices[1]]);
  const restored = DataOrder.fromState(JSON.parse(JSON.stringify(original.state())), 17);
  for (let i = 0; i < 20; i++) {
    const n = 1 + rng.int(6);
    t.deepEqual(restored.next(n), original.next(n));
  }
  t.throws(() => DataOrder.fromState(original.state(), 18), {
    message: /dataset of 17 examples but the dataset has 18/,
  });
});

test('a restored order keeps the nothing-lost, nothing-repeated promise across a save in every step', (t) => {
  const count = 11;
  let order = DataOrder.start(count, 4);
  const consumed = consume(order, 60, new Rng(8), () => {
    order = DataOrder.fromState(order.state(), count);
    return order;
  });
  const finished = [...consumed.keys()].sort((a, b) => a - b).slice(0, -1);
  t.true(finished.length >= 2);
  for (const epoch of finished)
    t.deepEqual(
      [...(consumed.get(epoch) ?? [])].sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
    );
});
