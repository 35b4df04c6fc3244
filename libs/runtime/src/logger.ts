import { pino, type Logger } from 'pino';

/**
 * The process logger: structured JSON lines on stderr (so stdout stays free for benchmark JSON and progress),
 * one `component` field per process role. Level from DDPM_LOG_LEVEL (default info).
 * Writes are synchronous: a line logged before a synchronous compute, or just before a kill -9, is on stderr, not in a
 * buffer waiting for the event loop (a few lines per step, so the cost is a syscall each).
 */
export function createLogger(component: string): Logger {
  return pino(
    { level: process.env.DDPM_LOG_LEVEL ?? 'info', base: { component } },
    pino.destination({ dest: 2, sync: true }),
  );
}
