import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@ddpm/runtime';

export { freePort };

/** The stand-alone entry points of the two apps (what container images run). */
export const COORDINATOR_BIN = fileURLToPath(new URL('../bin/ddpm-coordinator.js', import.meta.url));
export const WORKER_BIN = fileURLToPath(new URL('../../worker/bin/ddpm-worker.js', import.meta.url));

/** The part of ava's ExecutionContext the cluster needs. */
interface TestContext {
  teardown(fn: () => void | Promise<void>): void;
  log(...values: unknown[]): void;
}

/** One child process of a test cluster; its stdout and stderr are appended to `logPath`. */
export interface ClusterProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves with the exit code (or 128 + signal number style: null code and the signal name). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The JSON lines of a log or metrics file that parse (a line being written is skipped). */
export function jsonLines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const records: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial last line
    }
  }
  return records;
}

/**
 * How often `p` joined the run, not counting the resynchronisations the sharded topology does by design when a
 * bucket's owner is lost after the coordinator confirmed a step (its forwards never arrive; docs/topology.md).
 * In the star every join counts.
 */
export function joinsBesidesOwnerLoss(p: ClusterProcess, topology: 'star' | 'sharded'): number {
  const records = jsonLines(p.logPath);
  const joins = records.filter((r) => r.msg === 'joined the run').length;
  if (topology === 'star') return joins;
  const resyncs = records.filter(
    (r) =>
      r.msg === 'cannot apply the update; asking the coordinator for fresh state' &&
      /UpdateBucket\(s\) missing/.test(String(r.reason)),
  ).length;
  return joins - resyncs;
}

/**
 * Real coordinator and worker processes for multi-process tests, in a temp directory removed at teardown.
 * Promises: every process it started is SIGKILLed at teardown if still running, so a failing test leaves nothing
 * behind. Does not: pick ports (see freePort) or interpret logs beyond {@link jsonLines}.
 */
export class ProcessCluster {
  readonly dir: string;
  private readonly processes: ClusterProcess[] = [];

  constructor(
    private readonly t: TestContext,
    prefix = 'ddpm-cluster-',
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    mkdirSync(join(this.dir, 'logs'));
    t.teardown(async () => {
      for (const p of this.processes)
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(this.processes.map((p) => p.exited));
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /**
   * Starts `bin args` with DDPM_LOG_LEVEL (default info) and extra `env`; the log goes to DIR/logs/NAME.log (appended).
   * `prefix` runs it through another command that execs it, e.g. ['ip', 'netns', 'exec', NS].
   */
  start(
    name: string,
    bin: string,
    args: readonly string[],
    env: Record<string, string> = {},
    prefix: readonly string[] = [],
  ): ClusterProcess {
    const logPath = join(this.dir, 'logs', `${name}.log`);
    const [command, ...rest] = [...prefix, process.execPath, bin, ...args];
    const child = spawn(command, rest, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DDPM_LOG_LEVEL: 'info', ...env },
    });
    const out = createWriteStream(logPath, { flags: 'a' });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const proc: ClusterProcess = { name, child, logPath, exited };
    this.processes.push(proc);
    return proc;
  }

  /**
   * Polls `condition` every 50 ms; rejects naming `what` (and the log directory) after `timeoutMs`, or at once when
   * `awaited` (the process the condition is about) has exited.
   */
  async waitFor(what: string, condition: () => boolean, timeoutMs: number, awaited?: ClusterProcess): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (awaited && (awaited.child.exitCode !== null || awaited.child.signalCode !== null)) {
        this.t.log(`${awaited.name} exited before ${what}; logs:\n${this.dumpLogs()}`);
        throw new Error(`${awaited.name} exited before ${what}`);
      }
      if (Date.now() > deadline) {
        this.t.log(`timed out waiting for ${what}; logs:\n${this.dumpLogs()}`);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The last lines of every log, for a failing test's output. */
  dumpLogs(lines = 15): string {
    return this.processes
      .map(
        (p) =>
          `--- ${p.name}\n${existsSync(p.logPath) ? readFileSync(p.logPath, 'utf8').trim().split('\n').slice(-lines).join('\n') : ''}`,
      )
      .join('\n');
  }
}
