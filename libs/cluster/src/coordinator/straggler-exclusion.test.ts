import test from 'ava';
import { selectBackend } from '@ddpm/backend';
import type { CoordinatorAction } from './actions.ts';
import { describe, ScriptedWorker, testEngine } from './engine-harness.ts';

test.before(async () => {
  await selectBackend('cpu');
});

/**
 * Three workers, the third ten times slower, with --exclude-stragglers. `sampleEvery` 1 makes every boundary busy (a
 * grid is due, so the next step starts after it); 0 makes them quiet (the next step starts at once).
 */
const exclusion = test.macro({
  exec(t, sampleEvery: number) {
    const { engine, clock } = testEngine({ straggler: { factor: 2, exclude: true } }, { steps: 40, sampleEvery });
    const workers = ['a', 'b', 'slow'].map((name) => new ScriptedWorker(engine, name));
    const deliver = (actions: readonly CoordinatorAction[]) => {
      for (const worker of workers) worker.receive(actions);
      return actions;
    };
    for (const worker of workers) deliver(worker.hello());
    const [a, b, slow] = workers;
    for (let round = 0; round < 12; round++) {
      const step = engine.step;
      const slowIn = slow.start?.body.step === step && slow.replica !== undefined;
      clock.ms += 100;
      deliver([...a.wholeGradient(), ...b.wholeGradient()]);
      clock.ms += 900;
      if (!slowIn) continue;
      const boundary = deliver(slow.wholeGradient()).map(describe);
      const excluded = boundary.some((line) => line.startsWith('error→3'));
      if (!excluded) continue;
      const starts = boundary.filter((line) => line.startsWith('stepStart'));
      t.deepEqual(
        starts.sort(),
        ['stepStart→1', 'stepStart→2'],
        `one StepStart each for a and b: ${boundary.join(', ')}`,
      );
      t.is(engine.step, step + 1);
      // The next step runs on a and b alone, and completes with them.
      clock.ms += 100;
      const next = deliver([...a.wholeGradient(), ...b.wholeGradient()]).map(describe);
      t.is(engine.step, step + 2, `the step after the exclusion completed: ${next.join(', ')}`);
      return;
    }
    t.fail('the slow worker was never excluded');
  },
  title: (_, busy) =>
    `a straggler excluded at a ${busy ? 'busy' : 'quiet'} boundary: the next step starts once, without it`,
});

test(exclusion, 1);
test(exclusion, 0);
