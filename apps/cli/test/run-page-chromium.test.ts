// The run page in a real headless Chromium (Debian's `chromium` package, which .ci/run installs), against a live
// `ddpm train` run: the loss chart draws its smoothed curve, at least one sample grid loads, the FD chart says how to
// turn evaluation on, and the workers table lists the in-process worker. It saves a screenshot in the run directory;
// with DDPM_UPDATE_SCREENSHOT=1 it also writes docs/images/run-page.png, the one README.md shows (so `npm test`
// changes no tracked file).
import test from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../../../docs/images/run-page.png', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Run in the page (browser JavaScript, kept as text: this project's TypeScript has no DOM types).
/** True once the page drew more than 10 loss points and at least one sample grid image loaded. */
const DRAWN = `Number(document.body.dataset.lossPoints) > 10 &&
  [...document.querySelectorAll('#samples img')].some((img) => img.complete && img.naturalWidth > 0)`;
/** What the test checks: pixels of the smoothed loss's stroke (#c0392b in run-page.js), images, notes, tables. */
const PROBE = `(() => {
  const canvas = document.querySelector('#loss-chart canvas');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let curve = 0;
  for (let i = 0; i < pixels.length; i += 4)
    if (Math.abs(pixels[i] - 192) + Math.abs(pixels[i + 1] - 57) + Math.abs(pixels[i + 2] - 43) < 30) curve += 1;
  return {
    curve,
    widths: [...document.querySelectorAll('#samples img')].map((img) => img.naturalWidth),
    fdNote: document.getElementById('fd-note').textContent,
    workers: document.querySelector('#workers tbody').textContent,
    config: document.querySelector('#config tbody').textContent,
  };
})()`;

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
  if (!existsSync(CHROMIUM)) {
    t.fail(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
    return;
  }
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
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(DRAWN, { timeout: 60_000 });
  const seen = (await page.evaluate(PROBE)) as {
    curve: number;
    widths: number[];
    fdNote: string;
    workers: string;
    config: string;
  };
  const shot = join(out, 'run-page.png');
  await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
  if (process.env.DDPM_UPDATE_SCREENSHOT === '1') copyFileSync(shot, SCREENSHOT);

  t.deepEqual(errors, [], 'no script error on the page');
  t.true(seen.curve > 100, `the smoothed loss curve is drawn on the canvas (${seen.curve} pixels of its colour)`);
  t.true(seen.widths.length >= 2 && seen.widths[0] > 0, `sample grids loaded (natural widths ${seen.widths})`);
  t.regex(seen.fdNote, /no evaluation yet: pass --eval-every/);
  t.regex(seen.workers, /in-process.*training/);
  t.regex(seen.config, /mnist-tiny/);
});
