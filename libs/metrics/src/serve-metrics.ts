import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { LivenessState } from './liveness-verdict.mjs';

export interface ServeMetricsOptions {
  /** TCP port; 0 lets the OS pick a free one (the real port is in the result). Convention: coordinator 9400, workers 9401. */
  readonly port: number;
  /**
   * Interface to listen on; default `127.0.0.1`. Use `0.0.0.0` when Prometheus runs elsewhere
   * (another container or host), e.g. under docker compose.
   */
  readonly host?: string;
  /**
   * GET /healthz answers 503 when the state published with `publishLiveness` is active and shows no progress for
   * longer than this (seconds; the coordinator's --stall-timeout). 0 or absent: /healthz only says the process is up.
   */
  readonly stallTimeoutSeconds?: number;
  /**
   * More routes, answered in the HTTP thread: `module` is the URL of a plain-JavaScript module whose
   * `createRoutes(data)` returns `handle(req, res, path, runState)` resolving whether it answered (the run page:
   * `runPageRoutes` of @ddpm/run-page). `data` must be structured-clonable.
   */
  readonly routes?: { readonly module: string; readonly data: unknown };
}

export interface MetricsServer {
  /** The port actually listened on (the OS-picked one when `port` was 0). */
  readonly port: number;
  /** `http://host:port/metrics`, for logs and for `ddpm local` to print. */
  readonly url: string;
  /** Hands the training loop's liveness state to the HTTP thread, which answers GET /healthz from the latest one. */
  publishLiveness(state: LivenessState): void;
  /** Hands the routes module the latest run state (structured-clonable; e.g. the run page's workers and config). */
  publishRunState(state: unknown): void;
  /** Stops listening and drops open keep-alive connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/** How long a scrape waits for a fresh snapshot from a busy main thread before it gets the latest one. */
const FRESH_WAIT_MS = 200;

type ThreadMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'listen-error'; readonly code?: string; readonly message: string }
  | { readonly type: 'collect'; readonly id: number }
  | { readonly type: 'closed' };

/**
 * Serves `registry` in the Prometheus text format at `GET /metrics` (also `HEAD`), with the registry's content type,
 * and liveness at `GET /healthz` (200, or 503 with the reason when the published state shows a stall, see
 * liveness-verdict.mjs). Other paths answer 404, other methods 405; a failing collector answers 500 with its message.
 *
 * The HTTP server runs in a worker thread (metrics-http-thread.mjs), so scrapes are answered even while this thread
 * is blocked in a long synchronous computation (a tfjs step on wasm/cpu blocks the event loop for seconds, longer
 * than a scrape timeout). A scrape asks this thread for a fresh `registry.metrics()`; when none arrives within
 * 200 ms it gets the latest snapshot, i.e. the values as of this thread's last idle moment.
 *
 * Promises: resolves only once the server listens; rejects with an error naming `--metrics-port` when the port is
 * taken (EADDRINUSE) or not allowed (EACCES), or `--metrics-host` when the address is not local (EADDRNOTAVAIL).
 * Does not: register any metric, authenticate, or serve TLS. The server keeps the process alive until `close()`.
 */
export function serveMetrics(registry: Registry, options: ServeMetricsOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(
      new Error(
        `serveMetrics: port must be an integer from 0 to 65535, got ${options.port}; fix --metrics-port (0 picks a free port).`,
      ),
    );
  }
  const thread = new Worker(new URL('./metrics-http-thread.mjs', import.meta.url), {
    workerData: {
      port: options.port,
      host,
      freshWaitMs: FRESH_WAIT_MS,
      stallTimeoutMs: Math.max(0, (options.stallTimeoutSeconds ?? 0) * 1000),
      routes: options.routes,
    },
  });
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const snapshot = async (id: number): Promise<void> => {
    try {
      thread.postMessage({
        type: 'snapshot',
        id,
        ok: true,
        body: await registry.metrics(),
        contentType: registry.contentType,
      });
    } catch (error) {
      thread.postMessage({ type: 'snapshot', id, ok: false, error: String(error) });
    }
  };
  return new Promise<MetricsServer>((resolve, reject) => {
    thread.once('error', (error) =>
      reject(
        new Error(
          `serveMetrics: the metrics HTTP thread failed: ${error.message}. This is a bug in @ddpm/metrics; pass --no-metrics to run without it.`,
          { cause: error },
        ),
      ),
    );
    thread.on('message', (message: ThreadMessage) => {
      if (message.type === 'collect') {
        void snapshot(message.id);
      } else if (message.type === 'listen-error') {
        const cause = Object.assign(new Error(message.message), { code: message.code });
        void thread.terminate().then(() => reject(listenError(cause, host, options.port)));
      } else if (message.type === 'listening') {
        void snapshot(0); // so a scrape during the first busy period already has values
        const urlHost = host.includes(':') ? `[${host}]` : host;
        resolve({
          port: message.port,
          url: `http://${urlHost}:${message.port}/metrics`,
          publishLiveness: (state) => {
            if (thread.threadId !== -1) thread.postMessage({ type: 'liveness', state });
          },
          publishRunState: (state) => {
            if (thread.threadId !== -1) thread.postMessage({ type: 'run-state', state });
          },
          close: async () => {
            if (thread.threadId === -1) return;
            const closed = new Promise<void>((done) =>
              thread.on('message', (m: ThreadMessage) => m.type === 'closed' && done()),
            );
            thread.postMessage({ type: 'close' });
            await Promise.race([closed, exited]);
            await thread.terminate();
          },
        });
      }
    });
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  const message =
    error.code === 'EADDRINUSE'
      ? `serveMetrics: cannot serve metrics on ${where}: the port is already in use (EADDRINUSE), probably by another ddpm ` +
        `coordinator or worker on this machine. Pass a free port with --metrics-port, or --metrics-port 0 to let the OS pick one.`
      : error.code === 'EACCES'
        ? `serveMetrics: cannot serve metrics on ${where}: permission denied (EACCES); ports below 1024 need privileges. ` +
          `Pass a port >= 1024 with --metrics-port.`
        : error.code === 'EADDRNOTAVAIL'
          ? `serveMetrics: cannot serve metrics on ${where}: ${host} is not an address of this machine (EADDRNOTAVAIL). ` +
            `Fix --metrics-host (e.g. 127.0.0.1, or 0.0.0.0 for all interfaces).`
          : `serveMetrics: cannot serve metrics on ${where}: ${error.message}. Check --metrics-host and --metrics-port.`;
  return Object.assign(new Error(message, { cause: error }), { code: error.code });
}
