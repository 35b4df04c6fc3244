import { spawnSync } from 'node:child_process';

/** The outcome of one promtool run: `available` is false when promtool is not on PATH (nothing was checked). */
export interface PromtoolResult {
  readonly available: boolean;
  readonly status: number | null;
  readonly output: string;
}

/**
 * Runs `promtool ...args` synchronously (with `input` on stdin), for tests and CI checks of the shipped config,
 * the recording rules and /metrics output. Does not: install promtool (`apt-get install prometheus` does) or throw
 * when it is missing; callers decide whether a missing promtool skips or fails.
 */
export function runPromtool(args: readonly string[], input?: string): PromtoolResult {
  const result = spawnSync('promtool', [...args], { input, encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return { available: false, status: null, output: '' };
  }
  return { available: true, status: result.status, output: `${result.stdout}${result.stderr}` };
}
