/** Set by `ddpm local` for its children: they watch their stdin, a pipe from the parent. */
export const PARENT_WATCH_ENV = 'DDPM_PARENT_WATCH';
/** How long a child whose parent died may spend stopping (a final checkpoint) before it exits regardless. */
const GRACE_MS = 500;

/**
 * In a child of `ddpm local` (DDPM_PARENT_WATCH=stdin): when the stdin pipe from the parent closes, which the kernel
 * does when the parent dies, even by SIGKILL, the child stops as on SIGTERM and exits within GRACE_MS regardless, so
 * no orphan keeps writing into --out. Elsewhere it does nothing. The watch never keeps the process alive.
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
}
