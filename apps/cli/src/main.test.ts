import test from 'ava';
import { APP_COMMANDS, loadAppCommands } from './app-commands.ts';
import { buildProgram } from './main.ts';

test('every app subcommand listed in APP_COMMANDS loads and is reachable from ddpm', async (t) => {
  const loaded = await loadAppCommands();
  t.is(loaded.length, APP_COMMANDS.length);
  const program = await buildProgram();
  const names = program.commands.map((c) => c.name());
  for (const command of loaded) t.true(names.includes(command.name()), `ddpm ${command.name()} is missing`);
  t.deepEqual(new Set(names).size, names.length, 'no command name appears twice');
});

test('ddpm offers the commands the README documents', async (t) => {
  const program = await buildProgram();
  const names = program.commands.map((c) => c.name());
  for (const name of ['train', 'local', 'coordinator', 'worker', 'sample', 'bench']) t.true(names.includes(name), name);
  const bench = program.commands.find((c) => c.name() === 'bench');
  t.deepEqual(bench?.commands.map((c) => c.name()).sort(), ['allreduce', 'conv', 'step']);
});
