import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type FlagRule } from '@ddpm/runtime';
import { allreduceArgs, presetWithParameters, runDir, type AllreduceBenchOptions } from './bench-allreduce.ts';
import { killSteps, percentiles, SoakTally } from './soak-tally.ts';

export interface AllreduceSoakOptions extends AllreduceBenchOptions {
  /** Kill one worker with SIGKILL, and start it again, every this many steps. */
  readonly killEvery: number;
}

/** The JSON line `ddpm bench allreduce --kill-every N` prints. Times in milliseconds, memory in bytes. */
export interface AllreduceSoakResult {
  readonly bench: 'allreduce-soak';
  readonly workers: number;
  readonly params: number;
  readonly compute_ms: number;
  readonly steps: number;
  readonly kill_every: number;
  /** Workers killed (and started again) on purpose. */
  readonly kills: number;
  /** The coordinator's resident set size when step `rss_early_step` was done, and at the last step seen. */
  readonly rss_early_step: number;
  readonly rss_early_bytes: number;
  readonly rss_end_step: number;
  readonly rss_end_bytes: number;
  /** rss_end_bytes / rss_early_bytes − 1. */
  readonly rss_growth: number;
  /** Error records in any log and exits the soak did not cause; the injected kills are not errors. */
  readonly errors: number;
  readonly error_messages: readonly string[];
  /** Warning records by message (the kills' consequences show here: a worker dropped as silent, and so on). */
  readonly warnings: Record<string, number>;
  /** Step-time percentiles over the steps after --warmup, kills included. */
  readonly step_ms: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly wall_seconds: number;
}

const EARLY_STEP = 100;

/** `--kill-every` (when set) must fall before `--steps`, or the soak would kill nothing. */
export const killEveryBelowSteps: FlagRule = (flags) => {
  const [every, steps] = [flags.killEvery, flags.steps];
  if (typeof every !== 'number' || typeof steps !== 'number' || every === 0 || every < steps) return undefined;
  return `--kill-every ${every} kills nothing in --steps ${steps}; pass a --kill-every below --steps, or 0 for no kills.`;
};
const POLL_MS = 100;

/**
 * The allreduce benchmark as a soak: the same coordinator and sleeping workers as benchAllreduce, but every
 * `killEvery` steps one worker (in turn) is killed with SIGKILL and started again under the same name, while the
 * coordinator's RSS is read from /proc at step 100 (or the last step, if fewer) and at the last step. A leak or a
 * failure to recover from a lost worker shows as RSS growth, errors, or a coordinator that does not finish.
 */
export async function benchAllreduceSoak(options: AllreduceSoakOptions): Promise<AllreduceSoakResult> {
  if (process.platform !== 'linux') {
    throw new Error(
      '--kill-every reads the coordinator RSS from /proc/PID/status, which only Linux has; run the soak on Linux.',
    );
  }
  const { workers, params, steps, warmup, killEvery } = options;
  const preset = presetWithParameters(params);
  const out = mkdtempSync(join(tmpdir(), 'ddpm-bench-soak-'));
  const tally = new SoakTally();
  const children: ChildProcess[] = [];
  const killed = new Set<ChildProcess>();
  let ending = false;
  const follow = (source: string, child: ChildProcess): ChildProcess => {
    children.push(child);
    if (child.stderr !== null)
      createInterface({ input: child.stderr }).on('line', (line) => tally.logLine(source, line));
    child.once('exit', (code, signal) => {
      if (!killed.has(child) && !ending) tally.exited(source, code, signal);
    });
    return child;
  };
  const started = Date.now();
  try {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const args = allreduceArgs({ ...options, preset, endpoint, out, maxWorkers: 2 * workers });
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    const coordinator = follow('coordinator', spawn(process.execPath, args.coordinator, { stdio }));
    const exited = new Promise<number>((resolve) => coordinator.once('exit', (code) => resolve(code ?? 1)));
    const live: ChildProcess[] = [];
    const startWorker = (i: number, generation: number): void => {
      live[i] = follow(`bench-${i}#${generation}`, spawn(process.execPath, args.worker(i), { stdio }));
    };
    for (let i = 1; i <= workers; i++) startWorker(i, 0);
    const metrics = join(runDir(out), 'metrics.jsonl');
    const pending = killSteps(steps, killEvery);
    const earlyStep = Math.min(EARLY_STEP, steps);
    let kills = 0;
    let early: { step: number; bytes: number } | undefined;
    let last = { step: 0, bytes: 0 };
    while (coordinator.exitCode === null && coordinator.signalCode === null) {
      await sleep(POLL_MS);
      const step = stepsDone(metrics);
      const bytes = rssBytes(coordinator.pid);
      if (bytes === undefined) continue;
      if (step > last.step) last = { step, bytes };
      if (early === undefined && step >= earlyStep) early = { step, bytes };
      if (pending.length > 0 && step >= pending[0]) {
        pending.shift();
        const i = (kills % workers) + 1;
        const victim = live[i];
        killed.add(victim);
        const gone = new Promise<void>((resolve) => victim.once('exit', () => resolve()));
        victim.kill('SIGKILL');
        await gone;
        kills += 1;
        startWorker(i, Math.ceil(kills / workers));
      }
    }
    const code = await exited;
    if (code !== 0) {
      throw new Error(`the soak's coordinator exited with status ${code}: ${tally.errors.slice(-5).join('; ')}`);
    }
    if (early === undefined) throw new Error(`the soak never saw step ${earlyStep} in ${metrics}; raise --steps.`);
    const seconds = stepSeconds(metrics).slice(warmup);
    const [p50, p90, p99, max] = percentiles(seconds, [50, 90, 99, 100]).map((s) => round(1000 * s));
    return {
      bench: 'allreduce-soak',
      workers,
      params,
      compute_ms: options.computeMs,
      steps,
      kill_every: killEvery,
      kills,
      rss_early_step: early.step,
      rss_early_bytes: early.bytes,
      rss_end_step: last.step,
      rss_end_bytes: last.bytes,
      rss_growth: round(last.bytes / early.bytes - 1),
      errors: tally.errors.length,
      error_messages: tally.errors.slice(0, 20),
      warnings: tally.warningCounts(),
      step_ms: { p50, p90, p99, max },
      wall_seconds: round((Date.now() - started) / 1000),
    };
  } finally {
    ending = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
}

/** Lines in metrics.jsonl: the steps the coordinator has finished (a line being written counts once it ends). */
function stepsDone(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines += 1;
  return lines;
}

function stepSeconds(path: string): number[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { step_seconds: number }).step_seconds);
}

/** VmRSS of process `pid` in bytes, or undefined once it has gone. */
function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
