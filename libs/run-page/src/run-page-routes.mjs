// The run page's HTTP routes, loaded by the metrics HTTP thread (metrics-http-thread.mjs) through serveMetrics's
// `routes` option: the page and its static files, its JSON endpoints read from the run directory, and the sample grids.
// Read-only: GET and HEAD only (the thread answers other methods with 405). Files are served only from fixed names and
// OUT/samples/*.png (see sample-files.mjs); everything is read asynchronously, and the answers are bounded (LIMITS).
// Plain JavaScript on purpose: worker threads do not have the tsx loader (see metrics-http-thread.mjs).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonlFollower } from './jsonl-follower.mjs';
import { EvalSeries, LossSeries } from './run-series.mjs';
import { listSamples, openSample } from './sample-files.mjs';

const require = createRequire(import.meta.url);
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const asset = (name) => fileURLToPath(new URL(`../assets/${name}`, import.meta.url));

/** The static files, by the name under /assets/: nothing else is served from disk besides the sample grids. */
const ASSETS = new Map([
  ['run-page.js', { path: asset('run-page.js'), type: JS }],
  ['run-page-view.js', { path: asset('run-page-view.js'), type: JS }],
  ['run-page.css', { path: asset('run-page.css'), type: CSS }],
  ['uPlot.iife.min.js', { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: JS }],
  ['uPlot.min.css', { path: require.resolve('uplot/dist/uPlot.min.css'), type: CSS }],
]);
const INDEX = { path: asset('index.html'), type: 'text/html; charset=utf-8' };

/** Bounds on what one answer holds. */
export const LIMITS = Object.freeze({ lossPoints: 4000, samples: 48, evaluations: 5000 });

const SECURITY = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
};

/** Runs `task` calls one after another (a follower must not read twice at once). */
function serialized(task) {
  let last = Promise.resolve();
  return () => (last = last.then(task, task));
}

/**
 * Returns `handle(req, res, path, live)` for the metrics HTTP thread: answers the run page's paths and resolves true,
 * or resolves false for a path it does not know (the thread answers 404). `live` is the state the training process
 * last published (publishRunState), or undefined.
 */
export function createRoutes({ runDirectory }) {
  const loss = new LossSeries();
  const evals = new EvalSeries(LIMITS.evaluations);
  const samples = join(runDirectory, 'samples');
  const follow = (file, series) => {
    const follower = new JsonlFollower(join(runDirectory, file));
    return serialized(async () => {
      const { records, reset, exists } = await follower.read();
      if (reset) series.clear();
      series.add(records);
      return exists;
    });
  };
  const refreshLoss = follow('metrics.jsonl', loss);
  const refreshEval = follow('eval.jsonl', evals);
  const assets = new Map();

  const json = (res, head, value) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY });
    res.end(head ? undefined : JSON.stringify(value));
  };
  const text = (res, status, message) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY }).end(`${message}\n`);
  const file = async (res, head, { path, type }) => {
    let body = assets.get(path);
    if (body === undefined) assets.set(path, (body = await readFile(path)));
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', ...SECURITY });
    res.end(head ? undefined : body);
  };
  const grid = async (res, head, name) => {
    const opened = await openSample(samples, name);
    if (opened === undefined) return false;
    try {
      const body = head ? undefined : await opened.handle.readFile();
      const headers = { 'content-type': 'image/png', 'content-length': opened.size, 'cache-control': 'no-cache' };
      res.writeHead(200, { ...headers, ...SECURITY }).end(body);
    } finally {
      await opened.handle.close();
    }
    return true;
  };

  const api = new Map([
    ['/api/loss', async () => ({ exists: await refreshLoss(), ...loss.view(LIMITS.lossPoints) })],
    ['/api/eval', async () => ({ exists: await refreshEval(), ...evals.view() })],
    ['/api/samples', () => listSamples(samples, LIMITS.samples)],
    ['/api/state', (live) => ({ runDirectory, live: live ?? null })],
  ]);

  return async function handle(req, res, path, live) {
    const head = req.method === 'HEAD';
    const answer = api.get(path);
    if (answer !== undefined) {
      json(res, head, await answer(live));
      return true;
    }
    if (path === '/' || path === '/index.html') {
      await file(res, head, INDEX);
      return true;
    }
    if (path.startsWith('/assets/')) {
      const found = ASSETS.get(path.slice('/assets/'.length));
      if (found !== undefined) await file(res, head, found);
      return found !== undefined;
    }
    if (path === '/samples/latest.png') {
      const { names } = await listSamples(samples, 1);
      if (names.length > 0 && (await grid(res, head, names[0]))) return true;
      text(res, 404, `no sample grid yet in ${samples}: grids are written every --sample-every steps and at the end`);
      return true;
    }
    if (!path.startsWith('/samples/')) return false;
    let name;
    try {
      name = decodeURIComponent(path.slice('/samples/'.length));
    } catch {
      return false; // malformed percent-encoding
    }
    return grid(res, head, name);
  };
}
