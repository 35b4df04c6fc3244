import { pino, type Logger } from 'pino';

/**
 * The process logger: structured JSON lines on stderr (so stdout stays free for benchmark JSON and progress),
 * one `component` field per process role. Level from DDPM_LOG_LEVEL (default info).
 */
export function createLogger(component: string): Logger {
  return pino({ level: process.env.DDPM_LOG_LEVEL ?? 'info', base: { component } }, pino.destination(2));
}
