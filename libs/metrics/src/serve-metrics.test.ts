import test from 'ava';
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
