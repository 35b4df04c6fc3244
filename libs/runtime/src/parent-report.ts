import type { ChildProcess } from 'node:child_process';

/** What a child of `ddpm local` tells its parent over the IPC channel. */
export interface ParentReport {
  /** The port its /metrics endpoint got (it was started with --metrics-port 0). */
  readonly metricsPort: number;
}

/**
 * Child side: sends `report` when the parent opened an IPC channel (`ddpm local` does); otherwise does nothing.
 * The channel never keeps this process alive.
 */
export function reportToParent(report: ParentReport): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  process.send(report);
  process.channel?.unref();
}

/**
 * Parent side: the metrics port `child` (spawned with an 'ipc' stdio entry) reports, or undefined if it exits first.
 * Call right after spawning, so no report is missed. Lets children bind port 0 themselves: no window in which
 * another process takes a port picked for them.
 */
export function reportedMetricsPort(child: ChildProcess): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    const settle = (port: number | undefined): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(port);
    };
    const onMessage = (message: unknown): void => {
      const port = typeof message === 'object' && message !== null ? (message as ParentReport).metricsPort : undefined;
      if (Number.isInteger(port)) settle(port);
    };
    const onExit = (): void => settle(undefined);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
