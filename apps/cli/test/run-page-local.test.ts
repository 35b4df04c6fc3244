// The run page of a cluster run: `ddpm local --workers 2` prints the page's URL, and the coordinator's page lists both
// workers with their images/s, the loss so far and the newest grid (the browser side is run-page-chromium.test.ts).
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

interface State {
  readonly live: {
    readonly command: string;
    readonly config: { readonly minWorkers?: number };
    readonly workers: readonly { name: string; state: string; imagesPerSecond: number | null }[];
  } | null;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

test('ddpm local prints the run page URL; the page lists both workers with images/s, the loss and the newest grid', async (t) => {
  t.timeout(180_000);
  const out = mkdtempSync(join(tmpdir(), 'ddpm-run-page-local-'));
  const child = spawn(
    process.execPath,
    [
      ...[BIN, 'local', '--workers', '2', '--preset', 'mnist-tiny', '--backend', 'wasm', '--batch', '4'],
      ...['--dataset-limit', '64', '--steps', '100000', '--timesteps', '100', '--sample-every', '5'],
      ...['--sample-count', '4', '--sample-steps', '2', '--heartbeat-timeout', '600', '--out', out],
    ],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, DDPM_LOG_LEVEL: 'warn' } },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const deadline = Date.now() + 150_000;
  let url: string | undefined;
  while (url === undefined && Date.now() < deadline && child.exitCode === null) {
    url = /^run page: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(stdout)?.[1];
    await sleep(100);
  }
  if (url === undefined) return t.fail(`no "run page:" line in the output of ddpm local:\n${stdout}`);

  let state: State = { live: null };
  let loss = { steps: 0 };
  let grids = { total: 0 };
  const ready = (): boolean =>
    loss.steps >= 6 && grids.total >= 1 && state.live?.workers.filter((w) => w.imagesPerSecond !== null).length === 2;
  while (!ready() && Date.now() < deadline && child.exitCode === null) {
    await sleep(1000);
    try {
      [state, loss, grids] = await Promise.all([
        getJson<State>(`${url}api/state`),
        getJson<{ steps: number }>(`${url}api/loss`),
        getJson<{ total: number }>(`${url}api/samples`),
      ]);
    } catch {
      // the coordinator may not listen yet
    }
  }
  t.true(ready(), `page state: ${JSON.stringify({ state, loss: loss.steps, grids: grids.total })}`);
  t.is(state.live?.command, 'coordinator');
  t.is(state.live?.config.minWorkers, 2);
  t.deepEqual(state.live?.workers.map((w) => [w.name, w.state]).sort(), [
    ['worker-1', 'training'],
    ['worker-2', 'training'],
  ]);
  for (const worker of state.live?.workers ?? []) t.true((worker.imagesPerSecond ?? 0) > 0, worker.name);
  const latest = await fetch(`${url}samples/latest.png`);
  t.is(latest.headers.get('content-type'), 'image/png');
  t.deepEqual([...new Uint8Array(await latest.arrayBuffer()).subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');
});
