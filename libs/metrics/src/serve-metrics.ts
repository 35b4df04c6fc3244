import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ServeMetricsOptions {
  /** TCP port; 0 lets the OS pick a free one (the real port is in the result). Convention: coordinator 9400, workers 9401. */
  readonly port: number;
  /**
   * Interface to listen on; default `127.0.0.1`. Use `0.0.0.0` when Prometheus runs elsewhere
   * (another container or host), e.g. under docker compose.
   */
  readonly host?: string;
}

export interface MetricsServer {
  /** The port actually listened on (the OS-picked one when `port` was 0). */
  readonly port: number;
  /** `http://host:port/metrics`, for logs and for `ddpm local` to print. */
  readonly url: string;
  /** Stops listening and drops open keep-alive connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/**
 * Serves `registry` in the Prometheus text format at `GET /metrics` (also `HEAD`), with the registry's content type.
 * Other paths answer 404, other methods 405; a failing collector answers 500 with its message.
 *
 * Promises: resolves only once the server listens; rejects with an error naming `--metrics-port` when the port is
 * taken (EADDRINUSE) or not allowed (EACCES), or `--metrics-host` when the address is not local (EADDRNOTAVAIL).
 * Does not: register any metric, authenticate, or serve TLS. The server does not keep the process alive on its own
 * once `close()` was called.
 */
export function serveMetrics(registry: Registry, options: ServeMetricsOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(new Error(`serveMetrics: port must be an integer from 0 to 65535, got ${options.port}; fix --metrics-port (0 picks a free port).`));
  }
  const server = createServer((req, res) => {
    void respond(registry, req, res);
  });
  return new Promise<MetricsServer>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, options.port)));
    server.listen(options.port, host, () => {
      const port = (server.address() as AddressInfo).port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        port,
        url: `http://${urlHost}:${port}/metrics`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error === undefined ? done() : fail(error)));
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function respond(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are served at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed: use GET /metrics\n');
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${String(error)}\n`);
  }
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
