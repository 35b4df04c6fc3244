import { pino, type Logger } from 'pino';

/**
 * The process logger: structured JSON lines on stderr (so stdout stays free for benchmark JSON and progress),
 * one `component` field per process role. Level from DDPM_LOG_LEVEL (default info).
 * Writes are synchronous by default: a line logged before a synchronous compute, or just before a kill -9, is on
 * stderr, not in a buffer waiting for the event loop (a few lines per step, so the cost is a syscall each).
 * `sync: false` is for a process that must keep up with floods it logs (the coordinator logs every refused message):
 * there a syscall per line slows the receive loop until its queue drops messages.
 */
export function createLogger(component: string, options: { sync?: boolean } = {}): Logger {
  return pino(
    { level: process.env.DDPM_LOG_LEVEL ?? 'info', base: { component } },
    pino.destination({ dest: 2, sync: options.sync ?? true }),
  );
}
