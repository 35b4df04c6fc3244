// The run page in a real headless Chromium (Debian's `chromium` package, which .ci/run installs), against a live
// `ddpm train` run: the loss chart draws its smoothed curve, at least one sample grid loads, the FD chart says how to
// turn evaluation on, and the workers table lists the in-process worker; and the FD chart draws eval.jsonl. It saves a screenshot in the run directory;
// with DDPM_UPDATE_SCREENSHOT=1 it also writes docs/images/run-page.png, the one README.md shows (so `npm test`
// changes no tracked file).
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Page } from 'puppeteer-core';
import { createRegistry, serveMetrics } from '@ddpm/metrics';
import { runPageRoutes } from '@ddpm/run-page';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../../../docs/images/run-page.png', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Run in the page (browser JavaScript, kept as text: this project's TypeScript has no DOM types).
/** True once the page drew more than 10 loss points and at least one sample grid image loaded. */
const DRAWN = `Number(document.body.dataset.lossPoints) > 10 &&
  [...document.querySelectorAll('#samples img')].some((img) => img.complete && img.naturalWidth > 0)`;
/** Pixels of colour `rgb` in the canvas of the chart in element `id` (its curve: axes and grid are grey). */
const curvePixels = (id: string, rgb: readonly number[]): string => `(() => {
  const canvas = document.querySelector('#${id} canvas');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < pixels.length; i += 4)
    if (Math.abs(pixels[i] - ${rgb[0]}) + Math.abs(pixels[i + 1] - ${rgb[1]}) + Math.abs(pixels[i + 2] - ${rgb[2]}) < 30)
      count += 1;
  return count;
})()`;
/** The strokes in run-page.js: the smoothed loss (#c0392b) and the Fréchet distance (#6c3fb5). */
const SMOOTHED_RGB = [192, 57, 43];
const FD_RGB = [108, 63, 181];
/** What the test reads from the page besides the curves. */
const PROBE = `({
  widths: [...document.querySelectorAll('#samples img')].map((img) => img.naturalWidth),
  fdNote: document.getElementById('fd-note').textContent,
  workers: document.querySelector('#workers tbody').textContent,
  config: document.querySelector('#config tbody').textContent,
})`;

/** A headless Chromium, closed when the test ends; fails the test with what to install when there is none. */
async function openPage(t: ExecutionContext): Promise<{ page: Page; errors: string[] } | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.fail(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
    return undefined;
  }
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.setViewport({ width: 1280, height: 1000 });
  return { page, errors };
}

/** Resolves with the run page's URL from the `serving the run page` log line on `stderr`. */
function pageUrl(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = /"url":"(http:\/\/[^"]+\/)","msg":"serving the run page"/.exec(text);
      if (found !== null) resolve(found[1]);
    });
    child.once('exit', (code) => reject(new Error(`ddpm train exited (${code}) before serving the page:\n${text}`)));
  });
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

test('the run page draws the loss and a sample grid in headless Chromium during a live ddpm train run', async (t) => {
  t.timeout(240_000);
  const opened = await openPage(t);
  if (opened === undefined) return;
  const { page, errors } = opened;
  const out = mkdtempSync(join(tmpdir(), 'ddpm-run-page-'));
  const child = spawn(
    process.execPath,
    [
      ...[BIN, 'train', '--preset', 'mnist-tiny', '--backend', 'wasm', '--batch', '8', '--dataset-limit', '256'],
      ...['--steps', '100000', '--timesteps', '100', '--lr', '0.002', '--warmup', '10'],
      ...['--sample-every', '25', '--sample-count', '16'],
      ...['--sample-steps', '4', '--checkpoint-every', '0', '--metrics-port', '0', '--out', out],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  });
  const url = await pageUrl(child);
  // Two grids and a few dozen steps, so the page has a curve and samples to show.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && (await getJson<{ total: number }>(`${url}api/samples`)).total < 2) await sleep(500);

  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(DRAWN, { timeout: 60_000 });
  const curve = (await page.evaluate(curvePixels('loss-chart', SMOOTHED_RGB))) as number;
  const seen = (await page.evaluate(PROBE)) as { widths: number[]; fdNote: string; workers: string; config: string };
  const shot = join(out, 'run-page.png');
  await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
  if (process.env.DDPM_UPDATE_SCREENSHOT === '1') copyFileSync(shot, SCREENSHOT);

  t.deepEqual(errors, [], 'no script error on the page');
  t.true(curve > 100, `the smoothed loss curve is drawn on the canvas (${curve} pixels of its colour)`);
  t.true(seen.widths.length >= 2 && seen.widths[0] > 0, `sample grids loaded (natural widths ${seen.widths})`);
  t.regex(seen.fdNote, /no evaluation yet: pass --eval-every/);
  t.regex(seen.workers, /in-process.*training/);
  t.regex(seen.config, /mnist-tiny/);
});

test('the FD chart draws the evaluations of eval.jsonl (the contract format) in headless Chromium', async (t) => {
  t.timeout(60_000);
  const opened = await openPage(t);
  if (opened === undefined) return;
  const { page, errors } = opened;
  // A finished run's files, served as the coordinator serves them: no training needed to draw them.
  const out = mkdtempSync(join(tmpdir(), 'ddpm-run-page-fd-'));
  const steps = Array.from({ length: 400 }, (_, i) => JSON.stringify({ step: i + 1, loss: 1 / Math.sqrt(i + 1) }));
  writeFileSync(join(out, 'metrics.jsonl'), `${steps.join('\n')}\n`);
  const evals = [100, 200, 300, 400].map((step, i) => {
    const fd = [80, 20, 6, 3.1][i];
    const fields = { step, fd, fd_floor: 2.5, fd_ratio: fd / 2.5, count: 1000, confidence: 0.9, label_entropy: 2.2 };
    return JSON.stringify({ ...fields, seconds: 40, time: '2026-12-04T16:00:00Z' });
  });
  writeFileSync(join(out, 'eval.jsonl'), `${evals.join('\n')}\n`);
  const server = await serveMetrics(createRegistry(), { port: 0, routes: runPageRoutes(out) });
  t.teardown(async () => {
    await server.close();
    rmSync(out, { recursive: true, force: true });
  });
  await page.goto(`http://127.0.0.1:${server.port}/`, { waitUntil: 'load' });
  await page.waitForFunction('Number(document.body.dataset.polls) > 0', { timeout: 30_000 });
  const curve = (await page.evaluate(curvePixels('fd-chart', FD_RGB))) as number;
  const seen = (await page.evaluate(PROBE)) as { fdNote: string };
  t.deepEqual(errors, []);
  t.true(curve > 100, `the FD curve is drawn on the canvas (${curve} pixels of its colour)`);
  t.is(seen.fdNote, 'step 400: Fréchet distance 3.1 (floor 2.5), 1.24× the floor over 1000 samples');
});
