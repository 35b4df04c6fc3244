import test from 'ava';
import { createCoordinatorMetrics } from './coordinator-metrics.ts';
import { createRegistry } from './create-registry.ts';
import type { LivenessState } from './liveness-verdict.mjs';
import { ProgressTracker, trackCoordinatorProgress } from './track-progress.ts';

function tracker(start = 1000): { tracker: ProgressTracker; published: LivenessState[]; clock: { now: number } } {
  const clock = { now: start };
  const published: LivenessState[] = [];
  return {
    tracker: new ProgressTracker(
      (s) => published.push(s),
      () => clock.now,
    ),
    published,
    clock,
  };
}

test('starts inactive and publishes at once', (t) => {
  const { published } = tracker();
  t.deepEqual(published, [{ active: false, activeWorkers: 0, step: 0, lastProgressAtMs: 1000 }]);
});

test('the stall clock starts when the first worker connects, not at start', (t) => {
  const { tracker: p, clock } = tracker();
  clock.now = 50_000;
  p.setActiveWorkers(1);
  t.deepEqual(p.state, { active: true, activeWorkers: 1, step: 0, lastProgressAtMs: 50_000 });
  clock.now = 60_000;
  p.setActiveWorkers(2); // more workers is not progress
  t.is(p.state.lastProgressAtMs, 50_000);
  t.is(p.state.activeWorkers, 2);
});

test('a completed or skipped step is progress; losing every worker makes it inactive', (t) => {
  const { tracker: p, clock, published } = tracker();
  p.setActiveWorkers(2);
  clock.now = 70_000;
  p.progressed(7);
  t.deepEqual(p.state, { active: true, activeWorkers: 2, step: 7, lastProgressAtMs: 70_000 });
  clock.now = 80_000;
  p.progressed();
  t.deepEqual([p.state.step, p.state.lastProgressAtMs], [7, 80_000]);
  p.setActiveWorkers(0);
  t.false(p.state.active);
  t.is(published.at(-1), p.state);
});

test('trackCoordinatorProgress feeds the tracker from the events the engine reports, and still records them', async (t) => {
  const { tracker: p, clock } = tracker();
  const metrics = createCoordinatorMetrics(createRegistry(), { defaultMetrics: false });
  const tracked = trackCoordinatorProgress(metrics, p);
  tracked.setActiveWorkers(3);
  clock.now = 9000;
  tracked.recordStep({
    ...{ step: 4, epoch: 0, loss: 0.5, images: 96, durationSeconds: 1.5, learningRate: 1e-3 },
    gradientGlobalNorm: 1,
  });
  t.deepEqual(p.state, { active: true, activeWorkers: 3, step: 4, lastProgressAtMs: 9000 });
  clock.now = 9500;
  tracked.recordSkippedStep('non_finite_loss');
  t.is(p.state.lastProgressAtMs, 9500);
  const text = await tracked.registry.metrics();
  t.regex(text, /^ddpm_step 4$/m);
  t.regex(text, /^ddpm_active_workers 3$/m);
});
