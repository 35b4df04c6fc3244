import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { protocolLimits, readAllowList, readKeyPair } from '@ddpm/protocol';
import {
  addBackendOption,
  addFlagRules,
  addJobOptions,
  addMetricsOptions,
  addRunOptions,
  createLogger,
  createProgress,
  endpointFlag,
  integer,
  plaintextBindWarning,
  runConfigFromFlags,
  withLowCommunication,
  type JobFlags,
  type MetricsFlags,
  type RunFlags,
} from '@ddpm/runtime';
import { CoordinatorEngine, CoordinatorServer, RunLifecycle, ZapHandler } from '@ddpm/cluster';
import { COMMAND_RULES } from './command-rules.ts';
import { addEvalOptions, startEvaluation, type EvalFlags } from './eval-options.ts';
import { claimRunDirectory, loadRunDataset, openCheckpoints, stoppableBy, summaryLine } from './run-setup.ts';
import { addStallTimeoutOption, startCoordinatorMetrics, type StallFlags } from './coordinator-health.ts';
import { RunPagePublisher } from './run-page-publisher.ts';
import { bucketMegabytes } from './simulated-step-options.ts';

interface CoordinatorFlags extends RunFlags, MetricsFlags, JobFlags, StallFlags, EvalFlags {
  bind: string;
  minWorkers: number;
  maxWorkers: number;
  maxMessageMb: number;
  bucketMb: number;
  backend: BackendRequest;
  curveSecretKey?: string;
  allowKeys?: string;
}

/** `ddpm coordinator`: owns the run and serves workers over ZeroMQ. */
export function coordinatorCommand(): Command {
  const command = new Command('coordinator').description(
    'run the coordinator of a distributed training job (ZeroMQ ROUTER)',
  );
  addRunOptions(command, {
    out: 'runs/cluster',
    batchHelp: 'local batch: images per worker per step (global batch = batch × workers)',
  });
  addBackendOption(command);
  addMetricsOptions(command, 9400);
  addStallTimeoutOption(command);
  addJobOptions(command);
  addEvalOptions(command);
  addFlagRules(command, COMMAND_RULES.coordinator);
  return command
    .option(
      '--bind <endpoint>',
      'ZeroMQ endpoint to listen on: tcp://HOST:PORT (* for all interfaces) or ipc://PATH',
      endpointFlag('bind'),
      'tcp://*:5555',
    )
    .option('--min-workers <n>', 'steps wait until this many workers are connected', integer(1, 4096), 1)
    .option('--max-workers <n>', 'refuse workers beyond this many (joined or joining)', integer(1, 4096), 64)
    .option(
      '--max-message-mb <n>',
      'largest message accepted, in MiB (never more than one gradient)',
      integer(1, 4096),
      256,
    )
    .option(
      '--bucket-mb <n>',
      'gradient bucket size in MiB: workers send each bucket as soon as backpropagation finished it',
      bucketMegabytes,
      0.25,
    )
    .option(
      '--curve-secret-key <file>',
      "the coordinator's CURVE key pair (ddpm keygen); enables encryption and authentication",
    )
    .option(
      '--allow-keys <file>',
      'public keys of the workers allowed in, one per line (required with --curve-secret-key)',
    )
    .action(async (flags: CoordinatorFlags) => {
      const log = createLogger('coordinator', { sync: false });
      const plaintext = plaintextBindWarning(flags.bind, flags.curveSecretKey !== undefined);
      if (plaintext !== undefined) log.warn({ bind: flags.bind, curve: false }, plaintext);
      const lock = claimRunDirectory(flags, 'coordinator', log);
      const keys = flags.curveSecretKey === undefined ? undefined : readKeyPair(flags.curveSecretKey);
      const allowed = flags.allowKeys === undefined ? undefined : readAllowList(flags.allowKeys);
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const { metrics, server } = await startCoordinatorMetrics(backend.name, flags, log);
      const run = withLowCommunication(runConfigFromFlags(flags), flags);
      const evaluation = await startEvaluation(flags, run, log, metrics);
      let finished = false;
      const dataset = await loadRunDataset(flags);
      const { store, resume, policy } = openCheckpoints(flags, log);
      const zap = allowed === undefined ? undefined : new ZapHandler(allowed, log);
      await zap?.start();
      const progress = createProgress(flags.steps);
      const limits = protocolLimits({ maxMessageBytes: flags.maxMessageMb * 1024 * 1024 });
      const engine = new CoordinatorEngine(
        {
          ...{ run, minWorkers: flags.minWorkers, maxWorkers: flags.maxWorkers, limits, log, metrics },
          ...{ heartbeatIntervalMs: flags.heartbeatInterval * 1000, heartbeatTimeoutMs: flags.heartbeatTimeout * 1000 },
          ...{ checkpoints: policy, resume, bucketBytes: Math.round(flags.bucketMb * 1024 * 1024) },
          straggler: { factor: flags.stragglerFactor, exclude: flags.excludeStragglers },
          stepTimeout: flags.stepTimeout,
          wireDtype: flags.wireDtype,
          topology: flags.topology,
          evalEvery: flags.evalEvery,
        },
        dataset,
      );
      const lifecycle = new RunLifecycle(
        {
          ...{ run, store, log, metrics, evaluation },
          onStep: (r) => {
            progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s });
            page.note();
          },
          onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
        },
        engine.state.model,
        resume === undefined ? undefined : engine.step,
      );
      const { minWorkers, maxWorkers, bind, data } = flags;
      const config = { command: 'coordinator', ...run, data, backend: backend.name, bind, minWorkers, maxWorkers };
      const source = { command: 'coordinator', backend: backend.name, steps: flags.steps, batch: flags.batch, config };
      const page = new RunPagePublisher(server, { ...source, engine });
      const socketOptions =
        keys === undefined
          ? undefined
          : { curveServer: true, curveSecretKey: keys.secretKey, curvePublicKey: keys.publicKey };
      const coordinator = new CoordinatorServer(engine, lifecycle, {
        bind: flags.bind,
        limits,
        log,
        metrics,
        socketOptions,
      });
      await coordinator.bind();
      if (keys !== undefined)
        log.info(
          { allowedKeys: allowed?.size },
          'CURVE on: only workers whose public key is in --allow-keys can connect',
        );
      const stop = (signal: NodeJS.Signals): void => {
        log.warn(`${signal}: writing a checkpoint and stopping; restart with --resume latest to continue`);
        coordinator
          .stop(signal)
          .catch((error: unknown) => log.error({ err: (error as Error).message }, 'stopping failed'));
      };
      try {
        const summary = await stoppableBy(stop, () => coordinator.serve());
        finished = summary.stopped === undefined;
        progress.stop();
        process.stdout.write(summaryLine(summary));
        const { sentBytes, receivedBytes } = coordinator.traffic;
        process.stdout.write(`traffic: the coordinator sent ${sentBytes} bytes and received ${receivedBytes} bytes\n`);
      } finally {
        page.stop();
        // A finished run waits for its last evaluation; a stopped or failed one ends it at once.
        await evaluation?.close(finished);
        await zap?.close();
        await server?.close();
        lock.release();
      }
    });
}
