import test from 'ava';
import { Backoff } from './backoff.ts';

test('delays double up to the cap, stay within [ceiling/2, ceiling], and start over after reset', (t) => {
  const highest = new Backoff(100, 1000, () => 1);
  t.deepEqual(
    Array.from({ length: 6 }, () => highest.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
  highest.reset();
  t.is(highest.next(), 100);
  const lowest = new Backoff(100, 1000, () => 0);
  t.deepEqual(
    Array.from({ length: 3 }, () => lowest.next()),
    [50, 100, 200],
  );
  t.throws(() => new Backoff(0, 10), { message: /0 < baseMs <= maxMs/ });
});
