import test from 'ava';
import { createRegistry } from './create-registry.ts';
import { serveMetrics } from './serve-metrics.ts';

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

test('/healthz answers 200 before anything is published, and when the check is off', async (t) => {
  const server = await serveMetrics(createRegistry(), { port: 0 });
  t.teardown(() => server.close());
  const healthz = server.url.replace(/\/metrics$/, '/healthz');
  t.deepEqual(await get(healthz), { status: 200, text: 'ok: the process is up (no stall check)\n' });
  server.publishLiveness({ active: true, activeWorkers: 1, step: 3, lastProgressAtMs: 0 });
  t.is((await get(healthz)).status, 200, 'no --stall-timeout: never stalled');
});

test('/healthz turns 503 when the loop publishes nothing for longer than the stall timeout (a hung loop)', async (t) => {
  const server = await serveMetrics(createRegistry(), { port: 0, stallTimeoutSeconds: 1 });
  t.teardown(() => server.close());
  const healthz = server.url.replace(/\/metrics$/, '/healthz');
  server.publishLiveness({ active: true, activeWorkers: 2, step: 5, lastProgressAtMs: Date.now() });
  const fresh = await get(healthz);
  t.is(fresh.status, 200, fresh.text);
  t.regex(fresh.text, /^ok: step 5/);
  // nothing published from here on, as from a hung training loop; the HTTP thread's own clock decides
  await new Promise((resolve) => setTimeout(resolve, 1600));
  const stalled = await get(healthz);
  t.is(stalled.status, 503, stalled.text);
  t.regex(stalled.text, /^stalled: no step completed for \d+ s \(--stall-timeout 1\) while 2 workers are connected/);
  // progress again: healthy again
  server.publishLiveness({ active: true, activeWorkers: 2, step: 6, lastProgressAtMs: Date.now() });
  await new Promise((resolve) => setTimeout(resolve, 50)); // the message reaches the thread
  t.is((await get(healthz)).status, 200);
  // no workers connected: waiting is healthy
  server.publishLiveness({ active: false, activeWorkers: 0, step: 6, lastProgressAtMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is((await get(healthz)).status, 200);
});
