import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

/** Every live descendant of `root` (children, grandchildren, ...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parents.set(Number(name), Number(ppid));
    } catch {
      // exited while listing
    }
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function steps(out: string): number {
  const path = join(out, 'metrics.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0;
}

test('kill -9 of ddpm local leaves no process of the run alive within 2 s, and nothing writes into --out after', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-orphans-'));
  const out = join(dir, 'run');
  const local = spawn(
    process.execPath,
    [
      ...[BIN, 'local', '--workers', '2', '--preset', 'mnist-tiny', '--backend', 'wasm', '--batch', '2'],
      ...['--dataset-limit', '8', '--steps', '100000', '--timesteps', '20', '--sample-every', '0'],
      ...['--sample-count', '1', '--sample-steps', '1', '--checkpoint-every', '5', '--out', out],
    ],
    { stdio: 'ignore', env: { ...process.env, DDPM_LOG_LEVEL: 'warn' } },
  );
  const exited = new Promise<void>((resolve) => local.once('exit', () => resolve()));
  let run: number[] = [];
  t.teardown(async () => {
    for (const pid of [local.pid ?? 0, ...run]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 120_000;
  while (steps(out) < 3 && Date.now() < deadline && local.exitCode === null) await sleep(50);
  t.true(steps(out) >= 3, `the run trained (${steps(out)} steps)`);
  run = descendants(local.pid ?? 0);
  t.true(run.length >= 3, `a coordinator and 2 workers run under ddpm local (${run.length} processes)`);
  const killed = Date.now();
  local.kill('SIGKILL');
  await exited;
  while (run.some(alive) && Date.now() - killed < 10_000) await sleep(20);
  const seconds = (Date.now() - killed) / 1000;
  t.log(`the last process of the run exited ${seconds.toFixed(2)} s after the kill`);
  t.deepEqual(run.filter(alive), [], 'no process of the run is alive');
  t.true(seconds <= 2, `all exited within 2 s (took ${seconds.toFixed(2)} s)`);
  const size = statSync(join(out, 'metrics.jsonl')).size;
  await sleep(1000);
  t.is(statSync(join(out, 'metrics.jsonl')).size, size, 'metrics.jsonl no longer grows');
  t.true(existsSync(join(out, 'logs', 'coordinator.log')));
  t.regex(readFileSync(join(out, 'logs', 'worker-1.log'), 'utf8'), /parent ddpm local process is gone/);
});
