import test from 'ava';
import { spawn } from 'node:child_process';
import { Gauge } from 'prom-client';
import { createRegistry } from './create-registry.ts';
import { parseExposition, sampleValue } from './parse-exposition.ts';
import { serveMetrics } from './serve-metrics.ts';

function registryWithGauge(value: number) {
  const registry = createRegistry();
  new Gauge({ name: 'ddpm_test_value', help: 'A test value.', registers: [registry] }).set(value);
  return registry;
}

test('port 0 serves /metrics on a real free port with the registry content type', async (t) => {
  const registry = registryWithGauge(42);
  const server = await serveMetrics(registry, { port: 0 });
  t.teardown(() => server.close());
  t.true(server.port > 0);
  t.is(server.url, `http://127.0.0.1:${server.port}/metrics`);
  const response = await fetch(server.url);
  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), registry.contentType);
  t.is(sampleValue(parseExposition(await response.text()), 'ddpm_test_value'), 42);
  const missing = await fetch(`http://127.0.0.1:${server.port}/other`);
  t.is(missing.status, 404);
  await missing.arrayBuffer();
  const post = await fetch(server.url, { method: 'POST' });
  t.is(post.status, 405);
  await post.arrayBuffer();
});

test('a taken port fails with a message naming --metrics-port', async (t) => {
  const first = await serveMetrics(createRegistry(), { port: 0 });
  t.teardown(() => first.close());
  const error = await t.throwsAsync(serveMetrics(createRegistry(), { port: first.port }));
  t.regex(error?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${first.port}.*EADDRINUSE.*--metrics-port`));
  t.is((error as NodeJS.ErrnoException | undefined)?.code, 'EADDRINUSE');
});

test('an invalid port is rejected before listening', async (t) => {
  await t.throwsAsync(serveMetrics(createRegistry(), { port: 70000 }), { message: /0 to 65535.*--metrics-port/ });
});

test('close() stops serving', async (t) => {
  const server = await serveMetrics(registryWithGauge(1), { port: 0 });
  const response = await fetch(server.url);
  await response.text();
  await server.close();
  await t.throwsAsync(fetch(server.url));
});

test('scrapes are answered while the main thread is blocked, with the values of its last idle moment', async (t) => {
  const registry = createRegistry();
  const gauge = new Gauge({ name: 'ddpm_test_value', help: 'A test value.', registers: [registry] });
  gauge.set(7);
  const server = await serveMetrics(registry, { port: 0 });
  t.teardown(() => server.close());
  // Another process scrapes every 100 ms for 6 s and prints `sentMs receivedMs value` per scrape.
  const script = `
    const end = Date.now() + 6000;
    console.log('ready');
    while (Date.now() < end) {
      const sent = Date.now();
      const text = await (await fetch(${JSON.stringify(server.url)})).text();
      const value = /^ddpm_test_value (\\S+)$/m.exec(text)?.[1];
      console.log(sent + ' ' + Date.now() + ' ' + value); // one string: numbers passed separately are coloured under FORCE_COLOR
      await new Promise((r) => setTimeout(r, 100));
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Block only once the scraper is demonstrably scraping (two answers), so a slow start on a loaded machine cannot
  // make the blocked window empty.
  const answered = (): number => output.trim().split('\n').length - 1;
  while (answered() < 2) await new Promise((r) => setTimeout(r, 20));
  gauge.set(8);
  const blockStart = Date.now();
  while (Date.now() - blockStart < 2000) {
    // a synchronous computation, like a tfjs training step
  }
  const blockEnd = Date.now();
  await exited;
  const scrapes = output
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(' '))
    .map(([sent, received, value]) => ({ sent: Number(sent), received: Number(received), value: Number(value) }));
  // The event that matters: scrapes sent and answered while the main thread was blocked (no per-scrape latency bound,
  // which a loaded machine could break).
  const duringBlock = scrapes.filter((s) => s.sent > blockStart && s.received < blockEnd);
  t.true(duringBlock.length >= 2, `only ${duringBlock.length} scrapes were answered during the 2 s block: ${output}`);
  for (const s of duringBlock) {
    t.is(s.value, 7, 'a blocked main thread cannot collect: the scrape gets the latest snapshot');
  }
  const after = scrapes.filter((s) => s.sent > blockEnd + 300);
  t.true(after.length > 0 && after.every((s) => s.value === 8), `scrapes after the block should see 8: ${output}`);
});
