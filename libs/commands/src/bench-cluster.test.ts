import test from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { DDPM_BIN } from './ddpm-bin.ts';
import { benchCluster } from './bench-cluster.ts';

const namespacesOf = (pid: number): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(`ddpm-${pid}-`));

// CI runs as root; elsewhere this fails saying so rather than passing without having built a network.
const asRoot = (t: { fail: (m: string) => void }): boolean => {
  if (process.getuid?.() === 0) return true;
  t.fail('bench cluster builds network namespaces: run this test as root (CI does)');
  return false;
};

test.serial(
  'an emulated 2-worker cluster on 0.1 Gbit/s links: steps take at least the link bound, nothing is left behind',
  async (t) => {
    if (!asRoot(t)) return;
    const options = {
      topology: 'star',
      workers: 2,
      linkGbps: 0.1,
      params: 1112801,
      computeMs: 50,
      wireDtype: 'float32',
    } as const;
    const result = await benchCluster({ ...options, steps: 6, warmup: 2, bucketMb: 0.25 });
    t.log(JSON.stringify(result));
    t.is(result.bytes_max_link_per_step, 2 * 1112801 * 4);
    t.true(result.bound_ms > 700 && result.bound_ms < 720);
    // Unshaped loopback moves these 8.9 MB in ~50 ms; only a live 0.1 Gbit/s shaper makes a step this slow.
    t.true(
      result.step_ms >= 0.9 * result.bound_ms,
      `step ${result.step_ms} ms against a bound of ${result.bound_ms} ms`,
    );
    t.deepEqual(namespacesOf(process.pid), []);
  },
);

test.serial('Ctrl-C during the bench removes every namespace it made and exits 130', async (t) => {
  if (!asRoot(t)) return;
  const args = ['bench', 'cluster', '--workers', '2', '--link-gbps', '0.01', '--params', '1112801', '--steps', '50'];
  const child = spawn(process.execPath, [DDPM_BIN, ...args], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (namespacesOf(child.pid!).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.is(namespacesOf(child.pid!).length, 4, 'the switch and three hosts were built');
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.is(code, 130);
  t.deepEqual(namespacesOf(child.pid!), []);
});

test.serial('without root the bench refuses before any work, with exit code 2 and what to do', async (t) => {
  const getuid = process.getuid;
  process.getuid = () => 1000;
  t.teardown(() => (process.getuid = getuid));
  const error = await t.throwsAsync(
    benchCluster({
      topology: 'star',
      workers: 2,
      linkGbps: 1,
      params: 1112801,
      computeMs: 0,
      wireDtype: 'float32',
      steps: 3,
      warmup: 0,
      bucketMb: 0.25,
    }),
    { message: /needs root: run it as root .* or use `ddpm bench allreduce` on loopback/ },
  );
  t.is((error as Error & { exitCode?: number }).exitCode, 2);
  t.deepEqual(namespacesOf(process.pid), []);
});
