import type { ChildProcess } from 'node:child_process';

/** What a child of `ddpm local` tells its parent over the IPC channel, one field per message. */
export interface ParentReport {
  /** The port its /metrics endpoint got (it was started with --metrics-port 0). */
  readonly metricsPort?: number;
  /** The ZeroMQ endpoint the coordinator bound, with the real port (it was started with --bind tcp://HOST:0). */
  readonly endpoint?: string;
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

/** Parent side: the reports of a child, each undefined if the child exits before sending it. */
export type ChildReports = { readonly [K in keyof ParentReport]-?: Promise<ParentReport[K]> };

/**
 * Listens to `child` (spawned with an 'ipc' stdio entry) from the moment it is spawned, so no report is missed.
 * Lets children bind port 0 themselves: no window in which another process takes a port picked for them.
 */
export function childReports(child: ChildProcess): ChildReports {
  const awaitField = <K extends keyof ParentReport>(key: K): Promise<ParentReport[K]> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      const settle = (value: ParentReport[K]): void => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(value);
      };
      const onMessage = (message: unknown): void => {
        const value = typeof message === 'object' && message !== null ? (message as ParentReport)[key] : undefined;
        if (value !== undefined) settle(value);
      };
      const onExit = (): void => settle(undefined);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return { metricsPort: awaitField('metricsPort'), endpoint: awaitField('endpoint') };
}
