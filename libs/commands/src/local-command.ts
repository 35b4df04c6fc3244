import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { BackendRequest } from '@ddpm/backend';
import {
  addBackendOption,
  addFlagRules,
  addJobOptions,
  addRunOptions,
  createLogger,
  freePort,
  reportedMetricsPort,
  integer,
  LOCK_HOLDER_ENV,
  optionsToArgs,
  PARENT_WATCH_ENV,
  type JobFlags,
  type RunFlags,
} from '@ddpm/runtime';
import { COMMAND_RULES } from './command-rules.ts';
import { DDPM_BIN } from './ddpm-bin.ts';
import { localMembershipArgs } from './local-membership.ts';
import { claimRunDirectory } from './run-setup.ts';
import { addEvalOptions } from './eval-options.ts';

interface LocalFlags extends RunFlags, JobFlags {
  workers: number;
  port?: number;
  backend: BackendRequest;
}

/**
 * `ddpm local`: one coordinator and N workers as separate OS processes on this machine, talking ZeroMQ over TCP on
 * localhost. The coordinator's output (progress, summary) goes to this terminal; the children write their logs
 * straight to OUT/logs/coordinator.log and OUT/logs/worker-I.log. Exits with the coordinator's status; if a worker
 * dies first, stops the others and fails. This process holds OUT's lock (the coordinator uses it through
 * DDPM_RUN_LOCK_HOLDER), and the children watch a stdin pipe from it, so they stop when it dies, even by SIGKILL.
 */
export function localCommand(): Command {
  const command = new Command('local').description(
    'run a coordinator and N workers as local processes (a one-machine cluster)',
  );
  addRunOptions(command, {
    out: 'runs/local',
    batchHelp: 'local batch: images per worker per step (global batch = batch × workers)',
  });
  addBackendOption(command);
  command
    .option('--workers <n>', 'worker processes', integer(1, 256), 2)
    .option('--port <n>', 'TCP port of the coordinator (default: a free one)', integer(1, 65535));
  addJobOptions(command);
  addEvalOptions(command);
  addFlagRules(command, COMMAND_RULES.local);
  return command.action(async (flags: LocalFlags) => {
    const log = createLogger('local');
    const lock = claimRunDirectory(flags, 'local', log);
    const childEnv = { ...process.env, [LOCK_HOLDER_ENV]: lock.token, [PARENT_WATCH_ENV]: 'stdin' };
    // Workers start beside the coordinator (they retry until it binds), so its port is picked here (see freePort).
    const endpoint = `tcp://127.0.0.1:${flags.port ?? (await freePort())}`;
    const logs = join(flags.out, 'logs');
    mkdirSync(logs, { recursive: true });
    const logFile = (name: string): number => openSync(join(logs, name), 'a');
    const runArgs = optionsToArgs(command, flags, ['workers', 'port']);
    const metricsArgs = ['--metrics-host', '127.0.0.1', '--metrics-port', '0'];
    const children: ChildProcess[] = [];
    const coordinatorLog = logFile('coordinator.log');
    const coordinator = spawn(
      process.execPath,
      [DDPM_BIN, 'coordinator', ...runArgs, '--bind', endpoint, ...localMembershipArgs(flags.workers), ...metricsArgs],
      { stdio: ['pipe', 'inherit', coordinatorLog, 'ipc'], env: childEnv },
    );
    closeSync(coordinatorLog);
    children.push(coordinator);
    const metricsPorts = [reportedMetricsPort(coordinator)];
    log.info({ endpoint, workers: flags.workers, logs }, 'started the coordinator; starting workers');
    const workerExits: Promise<void>[] = [];
    for (let i = 1; i <= flags.workers; i++) {
      const limit = flags.datasetLimit === undefined ? [] : ['--dataset-limit', String(flags.datasetLimit)];
      const args = [
        DDPM_BIN,
        'worker',
        '--connect',
        endpoint,
        '--name',
        `worker-${i}`,
        '--backend',
        flags.backend,
        '--data',
        flags.data,
        ...limit,
        ...(flags.topology === 'sharded' ? ['--peer-endpoint', 'tcp://127.0.0.1:0'] : []),
        ...metricsArgs,
      ];
      const out = logFile(`worker-${i}.log`);
      const worker = spawn(process.execPath, args, { stdio: ['pipe', out, out, 'ipc'], env: childEnv });
      closeSync(out);
      children.push(worker);
      metricsPorts.push(reportedMetricsPort(worker));
      workerExits.push(
        exitOf(worker).then((code) => {
          if (code !== 0 && coordinator.exitCode === null) {
            const path = join(logs, `worker-${i}.log`);
            throw new Error(`worker-${i} exited with status ${code}${lastFailure(path)}; see ${path}.`);
          }
        }),
      );
    }
    const stop = (): void => children.forEach((child) => child.exitCode === null && child.kill('SIGTERM'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const workersDone = Promise.all(workerExits);
    workersDone.catch(() => undefined); // awaited below; marked handled while the ports are awaited
    try {
      const ports = await Promise.all(metricsPorts);
      if (ports.every((port) => port !== undefined)) announceMetrics(flags.out, ports as number[]);
      const code = await Promise.race([exitOf(coordinator), workersDone.then(() => exitOf(coordinator))]);
      if (code !== 0) {
        const path = join(logs, 'coordinator.log');
        throw new Error(`the coordinator exited with status ${code}${lastFailure(path)}; see ${path}.`);
      }
      await workersDone;
    } finally {
      stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      lock.release();
    }
  });
}

/**
 * Prints the processes' /metrics endpoints and the run page, and writes them as a Prometheus file_sd target list, so
 * a local Prometheus can scrape a `ddpm local` run with `file_sd_configs: [{ files: [OUT/prometheus-targets.json] }]`.
 */
function announceMetrics(out: string, ports: readonly number[]): void {
  const [coordinator, ...workers] = ports;
  const url = (port: number): string => `http://127.0.0.1:${port}/metrics`;
  process.stdout.write(
    `metrics: coordinator ${url(coordinator)}, workers ${workers.map(url).join(' ')}\n` +
      `run page: http://127.0.0.1:${coordinator}/\n`,
  );
  const targets = [
    { targets: [`127.0.0.1:${coordinator}`], labels: { job: 'ddpm-coordinator' } },
    { targets: workers.map((port) => `127.0.0.1:${port}`), labels: { job: 'ddpm-worker' } },
  ];
  writeFileSync(join(out, 'prometheus-targets.json'), `${JSON.stringify(targets, null, 2)}\n`);
}

/** A child's own last "ddpm: ..." failure line in its log, as ": <message>", or nothing. */
function lastFailure(path: string): string {
  try {
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('ddpm: '))
      .pop();
    return line === undefined ? '' : `: ${line.slice('ddpm: '.length).replace(/\.$/, '')}`;
  } catch {
    return '';
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128))));
}
