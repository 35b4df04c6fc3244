import test from 'ava';
import { Command, CommanderError } from 'commander';
import { addJobOptions, type JobFlags } from './job-options.ts';

/** Parses `args` with the job flags; throws Commander's error instead of exiting. */
function parse(args: readonly string[]): JobFlags {
  const command = addJobOptions(new Command('coordinator'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  command.parse(['node', 'ddpm', ...args]);
  return command.opts<JobFlags>();
}

test('--step-timeout defaults to auto and takes seconds, 0 meaning no deadline', (t) => {
  t.is(parse([]).stepTimeout, 'auto');
  t.is(parse(['--step-timeout', 'auto']).stepTimeout, 'auto');
  t.is(parse(['--step-timeout', '2.5']).stepTimeout, 2.5);
  t.is(parse(['--step-timeout', '0']).stepTimeout, 0);
});

for (const bad of ['soon', '-1', '', '1e9', 'Infinity'])
  test(`--step-timeout "${bad}" is refused, naming the flag and what it accepts`, (t) => {
    const error = t.throws(() => parse(['--step-timeout', bad]), { instanceOf: CommanderError });
    t.is(error?.code, 'commander.invalidArgument');
    t.regex(error?.message ?? '', /--step-timeout.*expected "auto" or seconds from 0 \(no deadline\) to 86400/);
  });
