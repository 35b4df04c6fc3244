// The /metrics HTTP server of serveMetrics (serve-metrics.ts), run in a worker thread so that a scrape is answered
// even while the main thread is blocked in a long synchronous computation (a tfjs training step on wasm/cpu blocks the
// event loop for seconds, longer than Prometheus's scrape timeout). Plain JavaScript on purpose: worker threads do not
// inherit the tsx loader that `ddpm` registers through its API.
//
// Protocol with the main thread (parentPort):
//   thread -> main  { type: 'listening', port } | { type: 'listen-error', code, message } | { type: 'collect', id }
//   main -> thread  { type: 'snapshot', id, ok: true, body, contentType } | { type: 'snapshot', id, ok: false, error }
//                   | { type: 'liveness', state }   (the latest state GET /healthz decides from)
//                   | { type: 'run-state', state }   (the latest state handed to the routes module, if any)
//                   | { type: 'close' }   (answered by { type: 'closed' })
// GET /healthz is answered here from the last published liveness state and this thread's clock, without asking the
// main thread: a hung training loop publishes nothing, so it turns unhealthy after the stall timeout.
// On a scrape the thread asks the main thread for a fresh snapshot and waits up to freshWaitMs for it; if the main
// thread is busy it answers with the latest snapshot instead (values as of the main thread's last idle moment).
// Other paths go to the optional routes module (workerData.routes: { module: URL, data }; the run page, see
// libs/run-page): its createRoutes(data) returns handle(req, res, path, runState), which resolves whether it answered.
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { livenessVerdict } from './liveness-verdict.mjs';

const { port, host, freshWaitMs, stallTimeoutMs, routes: routesOption } = workerData;
const routes = routesOption && (await import(routesOption.module)).createRoutes(routesOption.data);
let latest; // the latest successful snapshot { body, contentType }
let liveness; // the latest published liveness state, or undefined
let runState; // the latest state published for the routes module, or undefined
let nextId = 1;
const waiting = new Map(); // id -> callback(snapshot message)

parentPort.on('message', (message) => {
  if (message.type === 'snapshot') {
    if (message.ok) latest = { body: message.body, contentType: message.contentType };
    const callback = waiting.get(message.id);
    waiting.delete(message.id);
    callback?.(message);
  } else if (message.type === 'liveness') {
    liveness = message.state;
  } else if (message.type === 'run-state') {
    runState = message.state;
  } else if (message.type === 'close') {
    server.close(() => parentPort.postMessage({ type: 'closed' }));
    server.closeAllConnections();
  }
});

/** Resolves with the main thread's answer, or after freshWaitMs with undefined when a previous snapshot exists. */
function collect() {
  return new Promise((resolve) => {
    const id = nextId++;
    let timer;
    waiting.set(id, (message) => {
      clearTimeout(timer);
      resolve(message);
    });
    parentPort.postMessage({ type: 'collect', id });
    if (latest !== undefined) {
      timer = setTimeout(() => {
        // Keep the callback registered: a late answer still refreshes `latest`.
        waiting.set(id, () => {});
        resolve(undefined);
      }, freshWaitMs);
    }
  });
}

const notFound = (res) =>
  res
    .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    .end(`not found: metrics are served at /metrics, liveness at /healthz${routes ? ', the run page at /' : ''}\n`);

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz' && routes === undefined) return notFound(res);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end(`method not allowed: use GET ${path}\n`);
    return;
  }
  if (path !== '/metrics' && path !== '/healthz') {
    routes(req, res, path, runState).then(
      (answered) => answered || notFound(res),
      (error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`serving ${path} failed: ${error.message}\n`);
      },
    );
    return;
  }
  if (path === '/healthz') {
    const verdict = livenessVerdict(liveness, Date.now(), stallTimeoutMs);
    res.writeHead(verdict.status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : `${verdict.message}\n`);
    return;
  }
  void collect().then((answer) => {
    if (answer !== undefined && !answer.ok) {
      res
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`collecting metrics failed: ${answer.error}\n`);
      return;
    }
    const snapshot = answer ?? latest;
    res.writeHead(200, { 'content-type': snapshot.contentType });
    res.end(req.method === 'HEAD' ? undefined : snapshot.body);
  });
});

server.once('error', (error) =>
  parentPort.postMessage({ type: 'listen-error', code: error.code, message: error.message }),
);
server.listen(port, host, () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
