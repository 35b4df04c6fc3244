import test from 'ava';
import { createCoordinatorMetrics } from './coordinator-metrics.ts';
import { createRegistry } from './create-registry.ts';
import { definitionsFor, SKIP_REASONS, WORKER_FAILURE_REASONS } from './metric-definitions.ts';
import { parseExposition, sampleValue } from './parse-exposition.ts';
import { runPromtool } from './promtool.ts';

async function exercised() {
  const metrics = createCoordinatorMetrics(createRegistry(), { backend: 'cpu', lossSmoothing: 0.5 });
  metrics.setBackend('wasm');
  metrics.setActiveWorkers(2);
  metrics.workerJoined('0');
  metrics.workerJoined('1');
  metrics.recordStep({
    step: 1,
    epoch: 0,
    loss: 1,
    images: 64,
    durationSeconds: 0.8,
    learningRate: 2e-4,
    gradientGlobalNorm: 1.5,
  });
  metrics.recordStep({
    step: 2,
    epoch: 1,
    loss: 3,
    images: 64,
    durationSeconds: 0.5,
    learningRate: 1e-4,
    gradientGlobalNorm: 0.5,
  });
  metrics.observePhase('optimizer', 0.2);
  metrics.observePhase('optimizer', 0.04);
  const seconds = metrics.startPhase('wait')();
  metrics.recordSkippedStep('non_finite_gradient');
  metrics.setStraggler('1', true);
  metrics.workerFailed('0', 'timeout');
  metrics.workerLeft('1');
  metrics.addSentBytes(1000);
  metrics.addReceivedBytes(2500);
  metrics.addReceivedBytes(500);
  metrics.recordCheckpoint({ step: 2, durationSeconds: 1.5, unixTimeSeconds: 1_700_000_000 });
  metrics.recordEvaluation({ fd: 12.5, fdFloor: 3.25 });
  metrics.setRun({ runId: 'run-7', preset: 'mnist-tiny' });
  const text = await metrics.registry.metrics();
  return { text, exposition: parseExposition(text), seconds };
}

test('after updates the exposition parses and holds the reported values', async (t) => {
  const { exposition: e, seconds } = await exercised();
  t.deepEqual(e.problems, []);
  t.is(sampleValue(e, 'ddpm_loss'), 3);
  t.true(Math.abs(sampleValue(e, 'ddpm_loss_smoothed') - 7 / 3) < 1e-12); // (0.5*1 + 1*3) / 1.5
  t.is(sampleValue(e, 'ddpm_step'), 2);
  t.is(sampleValue(e, 'ddpm_epoch'), 1);
  t.is(sampleValue(e, 'ddpm_learning_rate'), 1e-4);
  t.is(sampleValue(e, 'ddpm_gradient_global_norm'), 0.5);
  t.is(sampleValue(e, 'ddpm_images_total'), 128);
  t.is(sampleValue(e, 'ddpm_images_per_second'), 128);
  t.is(sampleValue(e, 'ddpm_step_duration_seconds_count'), 2);
  t.is(sampleValue(e, 'ddpm_step_duration_seconds_bucket', { le: '0.5' }), 1);
  t.is(sampleValue(e, 'ddpm_step_duration_seconds_bucket', { le: '1' }), 2);
  t.true(
    Math.abs(sampleValue(e, 'ddpm_coordinator_phase_duration_seconds_sum', { phase: 'optimizer' }) - 0.24) < 1e-12,
  );
  t.is(sampleValue(e, 'ddpm_coordinator_phase_duration_seconds_count', { phase: 'communication' }), 0);
  t.true(seconds >= 0 && seconds < 1);
  t.is(sampleValue(e, 'ddpm_coordinator_phase_duration_seconds_count', { phase: 'wait' }), 1);
  t.is(sampleValue(e, 'ddpm_active_workers'), 2);
  t.is(sampleValue(e, 'ddpm_skipped_steps_total', { reason: 'non_finite_gradient' }), 1);
  t.is(sampleValue(e, 'ddpm_skipped_steps_total', { reason: 'non_finite_loss' }), 0);
  t.is(sampleValue(e, 'ddpm_worker_joins_total'), 2);
  t.is(sampleValue(e, 'ddpm_worker_failures_total', { worker: '0', reason: 'timeout' }), 1);
  t.is(sampleValue(e, 'ddpm_worker_failures_total', { worker: '1', reason: 'timeout' }), 0);
  t.is(sampleValue(e, 'ddpm_worker_leaves_total', { worker: '1' }), 1);
  t.is(sampleValue(e, 'ddpm_worker_leaves_total', { worker: '0' }), 0);
  t.is(sampleValue(e, 'ddpm_worker_straggler', { worker: '1' }), 0, 'leaving clears the straggler flag');
  t.is(sampleValue(e, 'ddpm_coordinator_sent_bytes_total'), 1000);
  t.is(sampleValue(e, 'ddpm_coordinator_received_bytes_total'), 3000);
  t.is(sampleValue(e, 'ddpm_last_checkpoint_step'), 2);
  t.is(sampleValue(e, 'ddpm_last_checkpoint_timestamp_seconds'), 1_700_000_000);
  t.is(sampleValue(e, 'ddpm_checkpoint_duration_seconds_sum'), 1.5);
  t.is(sampleValue(e, 'ddpm_sample_fd'), 12.5);
  t.is(sampleValue(e, 'ddpm_sample_fd_floor'), 3.25);
  t.is(sampleValue(e, 'ddpm_run_info', { run_id: 'run-7', preset: 'mnist-tiny' }), 1);
  t.is(sampleValue(e, 'ddpm_backend_info', { role: 'coordinator', backend: 'wasm' }), 1);
  t.is(e.samples.filter((s) => s.name === 'ddpm_backend_info').length, 1, 'the previous backend is removed');
});

test('every coordinator definition is exported with its type, plus process default metrics', async (t) => {
  const { exposition: e } = await exercised();
  for (const d of definitionsFor('coordinator')) t.is(e.types.get(d.name), d.type, d.name);
  t.is(e.types.get('process_cpu_seconds_total'), 'counter');
  t.false(e.types.has('nodejs_active_handles_total'));
  t.false(e.types.has('ddpm_worker_images_total'), 'worker metrics stay in workers');
});

test('label sets with a fixed domain exist before any event', async (t) => {
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  metrics.workerJoined('w-3');
  const e = parseExposition(await metrics.registry.metrics());
  for (const reason of SKIP_REASONS) t.is(sampleValue(e, 'ddpm_skipped_steps_total', { reason }), 0);
  for (const reason of WORKER_FAILURE_REASONS)
    t.is(sampleValue(e, 'ddpm_worker_failures_total', { worker: 'w-3', reason }), 0);
  t.is(sampleValue(e, 'ddpm_worker_straggler', { worker: 'w-3' }), 0);
  t.false(e.types.has('process_cpu_seconds_total'));
});

test('the Frechet-distance gauges have no sample before the first evaluation (never a fake perfect 0)', async (t) => {
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  const before = parseExposition(await metrics.registry.metrics());
  t.is(before.types.get('ddpm_sample_fd'), 'gauge');
  t.false(before.samples.some((s) => s.name === 'ddpm_sample_fd' || s.name === 'ddpm_sample_fd_floor'));
  metrics.recordEvaluation({ fd: 40, fdFloor: 2 });
  metrics.recordEvaluation({ fd: 9, fdFloor: 2.5 });
  const after = parseExposition(await metrics.registry.metrics());
  t.is(sampleValue(after, 'ddpm_sample_fd'), 9);
  t.is(sampleValue(after, 'ddpm_sample_fd_floor'), 2.5);
});

test('promtool check metrics accepts the coordinator exposition', async (t) => {
  const { text } = await exercised();
  const result = runPromtool(['check', 'metrics'], text);
  if (!result.available) {
    t.fail('promtool is missing: install it with `apt-get install -y prometheus` (.ci/run does).');
    return;
  }
  t.is(result.status, 0, result.output);
});

test('misuse fails with a message saying how to fix it', (t) => {
  const registry = createRegistry();
  const metrics = createCoordinatorMetrics(registry, { defaultMetrics: false });
  t.throws(() => createCoordinatorMetrics(registry), { message: /already registered.*createRegistry\(\)/ });
  t.throws(() => metrics.workerJoined('/data/worker 1'), { message: /short id.*never paths/ });
  t.throws(() => metrics.setBackend(''), { message: /--backend/ });
  t.throws(() => metrics.addSentBytes(-1), { message: />= 0/ });
  t.throws(
    () =>
      metrics.recordStep({
        step: 1,
        epoch: 0,
        loss: 1,
        images: 8,
        durationSeconds: Number.NaN,
        learningRate: 1,
        gradientGlobalNorm: 1,
      }),
    { message: /durationSeconds/ },
  );
});
