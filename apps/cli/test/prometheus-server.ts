import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@ddpm/runtime';

export { freePort };

/** One series of an instant-query answer: its labels and its value (`NaN` when Prometheus answered "NaN"). */
export interface InstantSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The outcome of `GET /api/v1/query`: `status` is Prometheus's own ("success" or "error"). */
export interface InstantQueryResult {
  readonly status: string;
  readonly error?: string;
  readonly samples: readonly InstantSample[];
}

/** One scrape target as `GET /api/v1/targets` reports it. */
export interface ScrapeTarget {
  readonly job: string;
  readonly scrapeUrl: string;
  readonly health: string;
  readonly lastError: string;
}

/** A Prometheus process started by `startPrometheus`, listening on 127.0.0.1. */
export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Runs an instant query at the current time, or at `timeSeconds` (Unix time) when given. */
  query(expr: string, timeSeconds?: number): Promise<InstantQueryResult>;
  /** The active scrape targets. */
  targets(): Promise<ScrapeTarget[]>;
  /** Sends SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** Path of the prometheus.yml to load. */
  readonly configPath: string;
  /** An empty directory for the TSDB (deleted by the caller). */
  readonly storagePath: string;
  /** Where Prometheus's own log goes (shown in the error when it does not become ready). */
  readonly logPath: string;
  /** How long to wait for `/-/ready`; default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** True when the `prometheus` binary is on PATH. */
export function prometheusInstalled(): boolean {
  const result = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  return result.error === undefined && result.status === 0;
}

/**
 * Starts its own `prometheus` process on a free 127.0.0.1 port with `configPath` and `storagePath`, and resolves once
 * it answers `/-/ready`. It never touches a system Prometheus service (different port, own storage).
 *
 * Promises: on rejection the process has been stopped. Preconditions: `prometheus` is on PATH (Debian:
 * `apt-get install -y prometheus`). Does not: delete `storagePath` or the log, or retry on a port taken meanwhile.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [
      `--config.file=${options.configPath}`,
      `--storage.tsdb.path=${options.storagePath}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = createWriteStream(options.logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: PrometheusServer = {
    url,
    query: (expr, timeSeconds) => instantQuery(url, expr, timeSeconds),
    targets: () => activeTargets(url),
    stop: () => stopProcess(child, exited),
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await isReady(url)) return server;
    await sleep(200);
  }
  await server.stop();
  const why = child.exitCode !== null ? `exited with status ${child.exitCode}` : 'did not answer /-/ready in time';
  throw new Error(
    `startPrometheus: prometheus ${why} on ${url}; its log (${options.logPath}) says:\n${tail(options.logPath)}\nCheck the config with \`promtool check config ${options.configPath}\`.`,
  );
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/-/ready`);
    return response.ok;
  } catch {
    return false;
  }
}

interface QueryResponse {
  status: string;
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[] | [number, string];
  };
}

async function instantQuery(url: string, expr: string, timeSeconds?: number): Promise<InstantQueryResult> {
  const params = new URLSearchParams({ query: expr });
  if (timeSeconds !== undefined) params.set('time', String(timeSeconds));
  const response = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await response.json()) as QueryResponse;
  if (body.status !== 'success' || body.data === undefined)
    return { status: body.status, error: body.error ?? `HTTP ${response.status}`, samples: [] };
  const { resultType, result } = body.data;
  if (resultType === 'scalar') {
    const [, value] = result as [number, string];
    return { status: body.status, samples: [{ labels: {}, value: Number(value) }] };
  }
  if (resultType !== 'vector')
    return { status: 'error', error: `unexpected result type ${resultType} for an instant query`, samples: [] };
  const vector = result as { metric: Record<string, string>; value: [number, string] }[];
  return { status: body.status, samples: vector.map((s) => ({ labels: s.metric, value: Number(s.value[1]) })) };
}

async function activeTargets(url: string): Promise<ScrapeTarget[]> {
  const response = await fetch(`${url}/api/v1/targets?state=active`);
  const body = (await response.json()) as {
    data: { activeTargets: { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }[] };
  };
  return body.data.activeTargets.map((t) => ({
    job: t.labels['job'] ?? '',
    scrapeUrl: t.scrapeUrl,
    health: t.health,
    lastError: t.lastError,
  }));
}

async function stopProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
