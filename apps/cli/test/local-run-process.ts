import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

/** Starts `ddpm local` in its own process group and stops the whole group (coordinator, workers) in teardown. */
export function startLocalRun(
  t: ExecutionContext,
  args: readonly string[],
): { child: ChildProcess; stdout: () => string } {
  const child = spawn(process.execPath, [BIN, 'local', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DDPM_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    const pid = child.pid;
    if (pid === undefined) return;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is already gone
      }
    };
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    signalGroup('SIGKILL'); // workers that outlived `ddpm local`, if any
  });
  return { child, stdout: () => stdout };
}
