import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../bin/ddpm.js', import.meta.url));
const STEPS = 200;
const KILL_AT = 120;
const dir = mkdtempSync(join(tmpdir(), 'ddpm-train-resume-'));

/** A short `ddpm train` whose steps take ~0.1 s (mnist-tiny, wasm, 64 images in batches of 4). */
function trainArgs(out: string): string[] {
  return [
    ...['train', '--preset', 'mnist-tiny', '--backend', 'wasm', '--batch', '4', '--dataset-limit', '64'],
    ...['--steps', String(STEPS), '--timesteps', '100', '--checkpoint-every', '10', '--no-metrics'],
    ...['--sample-every', '0', '--sample-count', '1', '--sample-steps', '1', '--out', out],
  ];
}

/** Each step's loss from metrics.jsonl, by step. */
function losses(out: string): Map<number, number> {
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  return new Map(lines.map((line) => JSON.parse(line) as { step: number; loss: number }).map((r) => [r.step, r.loss]));
}

function lastStep(out: string): number {
  const path = join(out, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  try {
    return (JSON.parse(lines[lines.length - 1]) as { step: number }).step;
  } catch {
    return 0; // a line being written
  }
}

const reference = join(dir, 'straight');
let straight: Promise<unknown>;

test.before(() => {
  straight = promisify(execFile)(process.execPath, [BIN, ...trainArgs(reference)], { maxBuffer: 1 << 24 });
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const killedAndResumed = test.macro({
  async exec(t, signal: NodeJS.Signals) {
    const out = join(dir, signal);
    const child = spawn(process.execPath, [BIN, ...trainArgs(out)], { stdio: 'ignore' });
    t.teardown(() => child.exitCode === null && child.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 240_000;
    while (lastStep(out) < KILL_AT && Date.now() < deadline && child.exitCode === null) await sleep(20);
    t.true(lastStep(out) >= KILL_AT && lastStep(out) < STEPS, `killed at step ${lastStep(out)}`);
    child.kill(signal);
    const code = await exited;
    t.is(code, signal === 'SIGKILL' ? null : 0, 'SIGTERM stops cleanly with a checkpoint; SIGKILL just dies');
    const resumed = await promisify(execFile)(process.execPath, [BIN, ...trainArgs(out), '--resume', 'latest'], {
      maxBuffer: 1 << 24,
    });
    t.regex(resumed.stdout, new RegExp(`done: ${STEPS} steps`));
    await straight;
    const [a, b] = [readFileSync(join(reference, 'weights.ddpm')), readFileSync(join(out, 'weights.ddpm'))];
    t.true(a.equals(b), 'the final weights and EMA are bitwise those of the uninterrupted run');
    const [want, got] = [losses(reference), losses(out)];
    t.is(got.size, STEPS, 'metrics.jsonl has each step once');
    for (let step = 1; step <= STEPS; step++) if (got.get(step) !== want.get(step)) t.fail(`step ${step} loss differs`);
  },
  title: (_ = '', signal: NodeJS.Signals) =>
    `ddpm train --steps ${STEPS}, ${signal} at step ~${KILL_AT}, --resume latest: final weights bitwise equal to an uninterrupted run`,
});

test(killedAndResumed, 'SIGKILL');
test(killedAndResumed, 'SIGTERM');
