import test from 'ava';
import {
  brokenFlagRules,
  heartbeatTimeoutAboveInterval,
  minWorkersWithinMax,
  pairedFlags,
  sampleStepsWithinTimesteps,
  warmupBelowSteps,
} from './flag-rules.ts';

const all = [
  sampleStepsWithinTimesteps,
  heartbeatTimeoutAboveInterval,
  minWorkersWithinMax,
  pairedFlags('--curve-key', '--coordinator-key', 'use CURVE'),
  warmupBelowSteps,
];

test('defaults and agreeing flags break no rule', (t) => {
  const flags = { sampleSteps: 50, timesteps: 1000, heartbeatInterval: 2, heartbeatTimeout: 30 };
  t.deepEqual(brokenFlagRules({ ...flags, minWorkers: 1, maxWorkers: 64, warmup: 5, steps: 25 }, all), []);
  t.deepEqual(brokenFlagRules({ sampleSteps: 1000, timesteps: 1000, minWorkers: 4, maxWorkers: 4 }, all), [], 'equal');
  t.deepEqual(brokenFlagRules({ curveKey: 'a', coordinatorKey: 'b' }, all), [], 'both of a pair');
  t.deepEqual(brokenFlagRules({}, all), [], 'a rule whose flags the command lacks does not apply');
});

test('each broken rule is reported once, in rule order, naming both flags', (t) => {
  const flags = { sampleSteps: 51, timesteps: 50, heartbeatInterval: 2, heartbeatTimeout: 1, coordinatorKey: 'c' };
  const messages = brokenFlagRules({ ...flags, minWorkers: 5, maxWorkers: 4, warmup: 9, steps: 3 }, all);
  t.is(messages.length, 5);
  t.regex(messages[0] ?? '', /--sample-steps 51 exceeds --timesteps 50/);
  t.regex(messages[1] ?? '', /--heartbeat-timeout 1 must exceed --heartbeat-interval 2; .*--heartbeat-timeout 6\./);
  t.regex(messages[2] ?? '', /--min-workers 5 exceeds --max-workers 4/);
  t.regex(messages[3] ?? '', /^--coordinator-key needs --curve-key/);
  t.regex(messages[4] ?? '', /--warmup 9 leaves no timed step of --steps 3; pass --warmup 2 or fewer/);
});
