import test from 'ava';
import { spawn } from 'node:child_process';

// A child of `ddpm local` stuck in a synchronous compute (its event loop never turns) whose parent dies.
const BUSY_CHILD = `
import { watchParent } from ${JSON.stringify(new URL('./parent-watch.ts', import.meta.url).href)};
watchParent(() => undefined);
process.stdout.write('watching\\n');
for (;;) Math.sqrt(Math.random());
`;

test('a child whose parent is gone dies within 2 s even while a synchronous compute blocks its event loop', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', BUSY_CHILD], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, DDPM_PARENT_WATCH: 'stdin' },
  });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_, signal) => resolve(signal)));
  const closedAt = Date.now();
  child.stdin.end(); // what the kernel does to the pipe when the parent dies
  const signal = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 10_000))]);
  const seconds = (Date.now() - closedAt) / 1000;
  t.is(signal, 'SIGKILL', `still ${String(signal)} after ${seconds} s`);
  t.true(seconds < 2, `took ${seconds} s`);
  t.log(`gone ${seconds.toFixed(2)} s after its stdin closed`);
});
