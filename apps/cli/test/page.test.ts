import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));

test('ddpm page serves a finished run directory until SIGTERM: loss, evaluations in step order, grids', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ddpm-page-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  mkdirSync(join(out, 'samples'));
  writeFileSync(join(out, 'samples', 'step-000020.png'), 'grid');
  const steps = Array.from({ length: 20 }, (_, i) => JSON.stringify({ step: i + 1, loss: 1 / (i + 1) }));
  writeFileSync(join(out, 'metrics.jsonl'), `${steps.join('\n')}\n`);
  const evals = [
    { step: 20, fd: 30 },
    { step: 10, fd: 60 },
  ].map((line) => JSON.stringify({ ...line, fd_floor: 3 }));
  writeFileSync(join(out, 'eval.jsonl'), `${evals.join('\n')}\n`);

  const child = spawn(process.execPath, [BIN, 'page', '--out', out, '--metrics-port', '0'], { stdio: 'pipe' });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /run page: (http\S+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`ddpm page exited with ${code} before serving`)));
  });
  const json = async (path: string) => (await fetch(new URL(path, url))).json() as Promise<Record<string, unknown>>;
  const loss = await json('api/loss');
  t.is(loss.steps, 20);
  const evaluation = (await json('api/eval')) as { points: { step: number; fd: number }[] };
  t.deepEqual(
    evaluation.points.map((p) => [p.step, p.fd]),
    [
      [10, 60],
      [20, 30],
    ],
  );
  t.is((await fetch(new URL('samples/latest.png', url))).status, 200);
  t.regex(await (await fetch(url)).text(), /<html/i);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('ddpm page refuses a directory that is not a run, naming --out and the fix', (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'ddpm-page-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, [BIN, 'page', '--out', empty], { encoding: 'utf8' });
  t.is(result.status, 2);
  t.regex(
    result.stderr,
    /--out .*: no metrics\.jsonl, eval\.jsonl or samples\/ there; pass the --out directory of a run/,
  );
});
