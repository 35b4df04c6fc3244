import test from 'ava';
import { buildProgram } from '@ddpm/commands';
import { main } from '../src/main.ts';

test('ddpm offers the commands the README documents, each once', (t) => {
  const names = buildProgram().commands.map((c) => c.name());
  for (const name of [
    'train',
    'local',
    'coordinator',
    'worker',
    'keygen',
    'sample',
    'bench',
    'train-classifier',
    'eval',
  ])
    t.true(names.includes(name), name);
  t.is(new Set(names).size, names.length, 'no command name appears twice');
  const bench = buildProgram().commands.find((c) => c.name() === 'bench');
  t.deepEqual(bench?.commands.map((c) => c.name()).sort(), ['allreduce', 'cluster', 'conv', 'step']);
});

test('the entry point runs the program: an unknown flag exits 2', async (t) => {
  const code = await main(['node', 'ddpm', 'train', '--no-such-flag']);
  t.is(code, 2);
});
