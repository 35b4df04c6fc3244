import { Worker } from 'node:worker_threads';

/** Set by `ddpm local` for its children: they watch their stdin, a pipe from the parent. */
export const PARENT_WATCH_ENV = 'DDPM_PARENT_WATCH';
/** How long a child whose parent died may spend stopping (a final checkpoint) before it exits regardless. */
const GRACE_MS = 500;

/**
 * The backstop, in a thread of its own: the main thread cannot see the pipe close while a synchronous compute blocks
 * its event loop (seconds per step on a loaded machine), so this thread polls stdin itself and, GRACE_MS after the
 * graceful path should have ended the process, kills it. Runs as CommonJS (an eval worker).
 */
const BACKSTOP = `
const { readSync, writeSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const buffer = Buffer.alloc(256);
for (;;) {
  let n;
  try {
    n = readSync(0, buffer, 0, buffer.length, null);
  } catch (error) {
    if (error.code === 'EAGAIN') { sleep(50); continue; }
    n = 0;
  }
  if (n === 0) break;
}
sleep(workerData.graceMs);
writeSync(2, 'ddpm: the parent ddpm local process is gone and this process did not stop within ' + workerData.graceMs + ' ms (a compute was running); killing it\\n');
process.kill(process.pid, 'SIGKILL');
`;

/**
 * In a child of `ddpm local` (DDPM_PARENT_WATCH=stdin): when the stdin pipe from the parent closes, which the kernel
 * does when the parent dies, even by SIGKILL, the child stops as on SIGTERM and exits within GRACE_MS regardless, so
 * no orphan keeps writing into --out; a thread kills it GRACE_MS after the pipe closed if the main thread is still
 * busy computing. Elsewhere it does nothing. The watch never keeps the process alive.
 */
export function watchParent(
  log: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream & { unref?: () => void } = process.stdin,
): void {
  if (env[PARENT_WATCH_ENV] !== 'stdin') return;
  let gone = false;
  const onGone = (): void => {
    if (gone) return;
    gone = true;
    log(`the parent ddpm local process is gone; stopping (exit within ${GRACE_MS} ms)`);
    setTimeout(() => process.exit(1), GRACE_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  };
  stdin.on('end', onGone);
  stdin.on('close', onGone);
  stdin.on('error', onGone);
  stdin.on('data', () => undefined);
  stdin.unref?.();
  if (stdin === process.stdin)
    new Worker(BACKSTOP, { eval: true, execArgv: [], workerData: { graceMs: GRACE_MS } }).unref();
}
