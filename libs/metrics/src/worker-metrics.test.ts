import test from 'ava';
import { createRegistry } from './create-registry.ts';
import { definitionsFor, WORKER_PHASES } from './metric-definitions.ts';
import { parseExposition, sampleValue } from './parse-exposition.ts';
import { runPromtool } from './promtool.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

async function exercised() {
  const metrics = createWorkerMetrics(createRegistry(), { worker: 'worker-1', backend: 'wasm' });
  metrics.recordStep({ images: 32, durationSeconds: 0.5 });
  metrics.recordStep({ images: 32, durationSeconds: 0.25 });
  metrics.observePhase('compute', 0.2);
  metrics.observePhase('data', 0.01);
  metrics.startPhase('communication')();
  metrics.addSentBytes(4096);
  metrics.addReceivedBytes(8192);
  metrics.setRun({ runId: 'old-run', preset: 'mnist-tiny' });
  metrics.setRun({ runId: '0b6f2c1e-1d2a-4c55-9e21-7f3f6a1b2c3d', preset: 'mnist-bench' });
  metrics.recordMemory({ numTensors: 120, numBytes: 4_000_000 });
  metrics.recordMemory({ numTensors: 130, numBytes: 4_500_000 });
  const text = await metrics.registry.metrics();
  return { text, exposition: parseExposition(text) };
}

test('after updates the exposition parses and holds the reported values, all labelled with the worker', async (t) => {
  const { exposition: e } = await exercised();
  t.deepEqual(e.problems, []);
  t.is(sampleValue(e, 'ddpm_worker_images_total', { worker: 'worker-1' }), 64);
  t.is(sampleValue(e, 'ddpm_worker_images_per_second', { worker: 'worker-1' }), 128);
  t.is(sampleValue(e, 'ddpm_worker_phase_duration_seconds_sum', { worker: 'worker-1', phase: 'compute' }), 0.2);
  t.is(
    sampleValue(e, 'ddpm_worker_phase_duration_seconds_bucket', { worker: 'worker-1', phase: 'compute', le: '0.1' }),
    0,
  );
  t.is(
    sampleValue(e, 'ddpm_worker_phase_duration_seconds_bucket', { worker: 'worker-1', phase: 'compute', le: '0.25' }),
    1,
  );
  t.is(sampleValue(e, 'ddpm_worker_phase_duration_seconds_count', { worker: 'worker-1', phase: 'communication' }), 1);
  t.is(sampleValue(e, 'ddpm_worker_sent_bytes_total', { worker: 'worker-1' }), 4096);
  t.is(sampleValue(e, 'ddpm_worker_received_bytes_total', { worker: 'worker-1' }), 8192);
  t.is(sampleValue(e, 'ddpm_backend_info', { role: 'worker', backend: 'wasm' }), 1);
  t.is(sampleValue(e, 'ddpm_worker_tfjs_tensors', { worker: 'worker-1' }), 130);
  t.is(sampleValue(e, 'ddpm_worker_tfjs_memory_bytes', { worker: 'worker-1' }), 4_500_000);
  const runs = e.samples.filter((s) => s.name === 'ddpm_run_info');
  t.deepEqual(
    runs.map((s) => [s.labels, s.value]),
    [[{ run_id: '0b6f2c1e-1d2a-4c55-9e21-7f3f6a1b2c3d', preset: 'mnist-bench' }, 1]],
    'only the latest run is reported',
  );
  const info = new Set(['ddpm_backend_info', 'ddpm_run_info']);
  const ddpm = e.samples.filter((s) => s.name.startsWith('ddpm_') && !info.has(s.name));
  t.true(ddpm.length > 0);
  t.true(ddpm.every((s) => s.labels.worker === 'worker-1'));
});

test('every worker definition is exported with its type, each worker phase exists at creation, none of the coordinator ones', async (t) => {
  const metrics = createWorkerMetrics(createRegistry(), { worker: '0' });
  const e = parseExposition(await metrics.registry.metrics());
  for (const d of definitionsFor('worker')) t.is(e.types.get(d.name), d.type, d.name);
  for (const phase of WORKER_PHASES)
    t.is(sampleValue(e, 'ddpm_worker_phase_duration_seconds_count', { worker: '0', phase }), 0);
  t.false(e.types.has('ddpm_loss'));
  t.is(sampleValue(e, 'ddpm_worker_images_total', { worker: '0' }), 0);
  t.is(sampleValue(e, 'ddpm_worker_tfjs_tensors', { worker: '0' }), 0);
});

test('promtool check metrics accepts the worker exposition', async (t) => {
  const { text } = await exercised();
  const result = runPromtool(['check', 'metrics'], text);
  if (!result.available) {
    t.fail('promtool is missing: install it with `apt-get install -y prometheus` (.ci/run does).');
    return;
  }
  t.is(result.status, 0, result.output);
});

test('a worker id that is not a short name is rejected with the flag to fix', (t) => {
  t.throws(() => createWorkerMetrics(createRegistry(), { worker: 'runs/2024/worker' }), {
    message: /worker label.*--name/,
  });
  t.throws(() => createWorkerMetrics(createRegistry(), { worker: 'x'.repeat(65) }), { message: /1-64/ });
  const metrics = createWorkerMetrics(createRegistry(), { worker: '0', defaultMetrics: false });
  t.throws(() => metrics.setRun({ runId: 'runs/a b', preset: 'mnist-tiny' }), { message: /run_id label/ });
  t.throws(() => metrics.recordMemory({ numTensors: -1, numBytes: 0 }), { message: /numTensors/ });
});

test('with a memory reader, every recorded step also records tfjs tensors and bytes', async (t) => {
  let live = { numTensors: 10, numBytes: 1000 };
  const metrics = createWorkerMetrics(createRegistry(), { worker: 'w', defaultMetrics: false, memory: () => live });
  metrics.recordStep({ images: 4, durationSeconds: 0.1 });
  live = { numTensors: 25, numBytes: 9000 };
  metrics.recordStep({ images: 4, durationSeconds: 0.1 });
  const e = parseExposition(await metrics.registry.metrics());
  t.is(sampleValue(e, 'ddpm_worker_tfjs_tensors', { worker: 'w' }), 25);
  t.is(sampleValue(e, 'ddpm_worker_tfjs_memory_bytes', { worker: 'w' }), 9000);
});
