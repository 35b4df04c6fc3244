// The run page as the metrics HTTP thread serves it (serveMetrics with runPageRoutes): pages, JSON, grids, and
// hostile paths that must never reach a file outside OUT/samples/*.png or the fixed assets.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, serveMetrics, type MetricsServer } from '@ddpm/metrics';
import { runPageRoutes } from './run-page-routes-option.ts';

const out = mkdtempSync(join(tmpdir(), 'ddpm-run-page-http-'));
const SECRET = 'SECRET-CONTENT-7f3a';
mkdirSync(join(out, 'samples'));
writeFileSync(join(out, 'samples', 'step-000010.png'), 'grid 10');
writeFileSync(join(out, 'samples', 'step-000020.png'), 'grid 20');
writeFileSync(join(out, 'secret.png'), SECRET);
writeFileSync(join(out, 'summary.json'), SECRET);
const lines = [1, 2, 3].map((step) => JSON.stringify({ step, loss: 1 / step, imgs_per_s: 10 }));
writeFileSync(join(out, 'metrics.jsonl'), `${lines.join('\n')}\n`);
let server: MetricsServer;
let base: string;

test.before(async () => {
  server = await serveMetrics(createRegistry(), { port: 0, routes: runPageRoutes(out) });
  base = `http://127.0.0.1:${server.port}`;
});
test.after.always(async () => {
  await server?.close();
  rmSync(out, { recursive: true, force: true });
});

/** A raw request, so that paths like /samples/../x reach the server as written (fetch would normalise them). */
function get(path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { method, path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the page, its script and the charting library are served', async (t) => {
  const page = await get('/');
  t.is(page.status, 200);
  t.regex(page.type, /^text\/html/);
  t.regex(page.body, /assets\/uPlot\.iife\.min\.js/);
  t.regex((await get('/assets/uPlot.iife.min.js')).body, /uPlot/);
  t.is((await get('/assets/run-page-view.js')).status, 200);
  t.is((await get('/metrics')).status, 200, '/metrics still answers');
});

test('the JSON endpoints answer from the run directory and the published state', async (t) => {
  const loss = JSON.parse((await get('/api/loss')).body);
  t.deepEqual(loss.step, [1, 2, 3]);
  t.deepEqual(JSON.parse((await get('/api/eval')).body), { exists: false, evaluations: 0, points: [] });
  writeFileSync(join(out, 'eval.jsonl'), `${JSON.stringify({ step: 3, fd: 12.5, fd_floor: 2.5, fd_ratio: 5 })}\n`);
  t.is(JSON.parse((await get('/api/eval')).body).points[0].fd, 12.5);
  t.deepEqual(JSON.parse((await get('/api/samples')).body), {
    total: 2,
    names: ['step-000020.png', 'step-000010.png'],
  });
  t.deepEqual(JSON.parse((await get('/api/state')).body), { runDirectory: out, live: null });
  server.publishRunState({ step: 3, workers: [] });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(JSON.parse((await get('/api/state')).body).live, { step: 3, workers: [] });
});

test('the newest grid is at /samples/latest.png, each grid at /samples/NAME', async (t) => {
  const latest = await get('/samples/latest.png');
  t.deepEqual([latest.status, latest.type, latest.body], [200, 'image/png', 'grid 20']);
  t.is((await get('/samples/step-000010.png')).body, 'grid 10');
  t.is((await get('/samples/step-000010.png', 'HEAD')).body, '');
});

test('hostile paths answer 404 and never a file outside OUT/samples or the assets', async (t) => {
  const hostile = [
    '/samples/../secret.png',
    '/samples/..%2fsecret.png',
    '/samples/%2e%2e%2fsecret.png',
    '/samples/%2E%2E/summary.json',
    '/samples/..%5csecret.png',
    '/samples/%252e%252e%252fsecret.png',
    '/samples//etc/passwd',
    '/samples/%00.png',
    '/samples/%',
    '/assets/../summary.json',
    '/assets/..%2f..%2fpackage.json',
    '/assets/index.html/../../secret.png',
    '/../secret.png',
    '/summary.json',
    '/api/../summary.json',
    '/samples/',
  ];
  for (const path of hostile) {
    const answer = await get(path);
    t.is(answer.status, 404, path);
    t.false(answer.body.includes(SECRET), path);
  }
});

test('the page is read-only: other methods answer 405', async (t) => {
  for (const method of ['POST', 'PUT', 'DELETE']) t.is((await get('/', method)).status, 405, method);
});
