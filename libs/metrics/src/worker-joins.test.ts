import test from 'ava';
import { createCoordinatorMetrics, type CoordinatorMetrics } from './coordinator-metrics.ts';
import { createRegistry } from './create-registry.ts';
import { parseExposition, type Sample } from './parse-exposition.ts';

const JOINS = 'ddpm_worker_joins_total';

async function scrape(metrics: CoordinatorMetrics): Promise<Sample[]> {
  return parseExposition(await metrics.registry.metrics()).samples.filter((s) => s.name === JOINS);
}

/**
 * What `increase()` can see between two scrapes: for each series present in both, the growth of its value. A series
 * that first appears in the later scrape contributes nothing, exactly as in Prometheus (its first sample is its start).
 */
function seenIncrease(before: readonly Sample[], after: readonly Sample[]): number {
  const key = (s: Sample) => JSON.stringify(s.labels);
  const earlier = new Map(before.map((s) => [key(s), s.value]));
  let total = 0;
  for (const s of after) {
    const start = earlier.get(key(s));
    if (start !== undefined) total += s.value - start;
  }
  return total;
}

test('increase() over scrapes sees the first join of each worker (the counter exists at 0 before any join)', async (t) => {
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  const atStart = await scrape(metrics);
  t.deepEqual(
    atStart.map((s) => s.value),
    [0],
    'one joins series at 0 before any worker is seen',
  );
  metrics.workerJoined('0');
  metrics.workerJoined('1');
  const afterTwo = await scrape(metrics);
  t.is(seenIncrease(atStart, afterTwo), 2, 'both first joins are visible to increase()');
  metrics.workerFailed('1', 'timeout');
  metrics.workerJoined('1');
  t.is(seenIncrease(afterTwo, await scrape(metrics)), 1, 'a rejoin counts once more');
});

test('the joins series has no worker label, so a new worker never starts a series at 1', async (t) => {
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  metrics.workerJoined('w-9');
  const samples = await scrape(metrics);
  t.is(samples.length, 1);
  t.deepEqual(samples[0]?.labels, {});
  t.is(samples[0]?.value, 1);
});
