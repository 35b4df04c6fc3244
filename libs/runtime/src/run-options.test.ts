import test from 'ava';
import { Command } from 'commander';
import { decimal, integer, oneOf } from './flag-parsers.ts';
import { addBackendOption, addRunOptions, optionsToArgs, runConfigFromFlags, type RunFlags } from './run-options.ts';
import { runCommand } from './run-command.ts';

function runCommandFor(): { command: Command; parsed: () => RunFlags & { backend: string } } {
  let flags: (RunFlags & { backend: string }) | undefined;
  const command = addBackendOption(
    addRunOptions(new Command('train'), { out: 'runs/x', batchHelp: 'images per step' }),
  ).action((f: RunFlags & { backend: string }) => {
    flags = f;
  });
  const parsed = (): RunFlags & { backend: string } => {
    if (flags === undefined) throw new Error('the action did not run');
    return flags;
  };
  return { command, parsed };
}

test('flag parsers accept their range and reject everything else with the accepted range in the message', (t) => {
  t.is(integer(1, 10)('7'), 7);
  for (const bad of ['0', '11', '2.5', 'x', '', '1e3'])
    t.throws(() => integer(1, 10)(bad), { message: /integer from 1 to 10/ });
  t.is(decimal(0, 1)('2e-4'), 2e-4);
  t.throws(() => decimal(0, 1)('1.5'), { message: /number from 0 to 1/ });
  t.is(oneOf(['a', 'b'] as const)('b'), 'b');
  t.throws(() => oneOf(['a', 'b'] as const)('c'), { message: /one of a, b/ });
});

test('run flags become a RunConfig with DDPM defaults', async (t) => {
  const { command, parsed } = runCommandFor();
  t.is(await runCommand(command, ['node', 'ddpm', '--steps', '7', '--lr', '1e-3', '--schedule', 'cosine']), 0);
  const config = runConfigFromFlags(parsed());
  t.is(config.steps, 7);
  t.is(config.optimizer.lr, 1e-3);
  t.is(config.optimizer.clip, 1);
  t.is(config.optimizer.emaDecay, 0.9999);
  t.deepEqual(config.schedule, { kind: 'cosine', timesteps: 1000 });
  t.is(config.preset, 'mnist-bench');
});

test('optionsToArgs reproduces the parsed flags, so a child process parses the same run', async (t) => {
  const first = runCommandFor();
  await runCommand(first.command, [
    'node',
    'ddpm',
    '--steps',
    '9',
    '--batch',
    '4',
    '--seed',
    '3',
    '--backend',
    'cpu',
    '--data',
    '/tmp/x',
  ]);
  const args = optionsToArgs(first.command, first.parsed(), ['seed']);
  t.false(args.includes('--seed'));
  const second = runCommandFor();
  await runCommand(second.command, ['node', 'ddpm', ...args]);
  t.deepEqual({ ...second.parsed(), seed: 3 }, first.parsed());
});

test('runCommand returns 2 for bad flags and 1 with the message for failures', async (t) => {
  const { command } = runCommandFor();
  const stderr = process.stderr.write;
  const written: string[] = [];
  process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  t.teardown(() => {
    process.stderr.write = stderr;
  });
  t.is(await runCommand(command, ['node', 'ddpm', '--steps', 'many']), 2);
  t.is(await runCommand(command, ['node', 'ddpm', '--no-such-flag']), 2);
  const failing = new Command('boom').action(() => {
    throw new Error('it broke; pass --fix');
  });
  t.is(await runCommand(failing, ['node', 'ddpm']), 1);
  t.true(written.some((line) => line.includes('ddpm: it broke; pass --fix')));
});
