import test from 'ava';
import { brokenFlagRules } from '@ddpm/runtime';
import { COMMAND_RULES } from './command-rules.ts';
import { coordinatorCommand } from './coordinator-command.ts';
import { localMembershipArgs } from './local-membership.ts';

test('ddpm local hands its coordinator membership flags that pass the coordinator rules, up to 256 workers', (t) => {
  for (const workers of [1, 2, 64, 65, 256]) {
    const command = coordinatorCommand();
    command.parseOptions(localMembershipArgs(workers));
    const flags = command.opts();
    t.is(flags.minWorkers, workers);
    t.is(flags.maxWorkers, Math.max(64, workers));
    t.deepEqual(brokenFlagRules(flags, COMMAND_RULES.coordinator), [], `${workers} workers`);
  }
});

test('without the --max-workers it passes, 65 local workers would break the rule (the test can fail)', (t) => {
  const command = coordinatorCommand();
  command.parseOptions(['--min-workers', '65']);
  t.regex(
    brokenFlagRules(command.opts(), COMMAND_RULES.coordinator)[0] ?? '',
    /--min-workers 65 exceeds --max-workers 64/,
  );
});
