import { join } from 'node:path';
import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { protocolLimits, readAllowList, readKeyPair } from '@ddpm/protocol';
import { createCoordinatorMetrics, createRegistry } from '@ddpm/metrics';
import {
  addBackendOption,
  addJobOptions,
  addMetricsOptions,
  addRunOptions,
  createLogger,
  createProgress,
  decimal,
  integer,
  runConfigFromFlags,
  startMetrics,
  type JobFlags,
  type MetricsFlags,
  type RunFlags,
} from '@ddpm/runtime';
import { CheckpointStore, limitDataset, loadCheckpoint, type FoundCheckpoint } from '@ddpm/training';
import { resolvePreset } from '@ddpm/unet';
import type { Logger } from 'pino';
import { Coordinator } from './coordinator.ts';
import { ZapHandler } from './zap-handler.ts';

interface CoordinatorFlags extends RunFlags, MetricsFlags, JobFlags {
  bind: string;
  minWorkers: number;
  maxWorkers: number;
  maxMessageMb: number;
  bucketMb: number;
  backend: BackendRequest;
  curveSecretKey?: string;
  allowKeys?: string;
}

/**
 * Test hook (not a flag): DDPM_FAULT_CHECKPOINT_PAUSE_MS makes every checkpoint write pause that long half-way through
 * its temp file, so tests can kill the coordinator in the middle of a write. Never set it in production.
 */
function checkpointPauseMs(): number {
  const value = Number(process.env.DDPM_FAULT_CHECKPOINT_PAUSE_MS ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** The checkpoint named by --resume: `latest` (newest readable in OUT/checkpoints, or none yet) or a path. */
export function findResumeCheckpoint(
  spec: string | undefined,
  store: CheckpointStore,
  log: Logger,
): FoundCheckpoint | undefined {
  if (spec === undefined) return undefined;
  if (spec !== 'latest') return { path: spec, checkpoint: loadCheckpoint(spec), rejected: [] };
  const removed = store.removeStaleTemps();
  if (removed > 0)
    log.warn(
      { dir: store.dir, removed },
      `removed ${removed} unfinished checkpoint temp file(s) left by a killed coordinator`,
    );
  const found = store.latest();
  for (const rejected of found?.rejected ?? [])
    log.error({ path: rejected.path }, `skipping unreadable checkpoint: ${rejected.reason}`);
  if (found === undefined)
    log.info({ dir: store.dir }, `--resume latest: no checkpoint in ${store.dir} yet; starting a new run`);
  else
    log.info(
      { path: found.path, step: found.checkpoint.meta.step },
      `resuming from ${found.path} (step ${found.checkpoint.meta.step})`,
    );
  return found;
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
  addJobOptions(command);
  return command
    .option('--bind <endpoint>', 'ZeroMQ endpoint to listen on', 'tcp://*:5555')
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
      decimal(0.0625, 1024),
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
      if (flags.maxWorkers < flags.minWorkers)
        throw new Error(
          `--max-workers ${flags.maxWorkers} is below --min-workers ${flags.minWorkers}; raise --max-workers.`,
        );
      if (flags.heartbeatTimeout <= flags.heartbeatInterval)
        throw new Error(
          `--heartbeat-timeout ${flags.heartbeatTimeout} must exceed --heartbeat-interval ${flags.heartbeatInterval}; use at least 3 intervals.`,
        );
      if ((flags.curveSecretKey === undefined) !== (flags.allowKeys === undefined))
        throw new Error('--curve-secret-key and --allow-keys go together: pass both to enable CURVE, or neither.');
      const log = createLogger('coordinator');
      const keys = flags.curveSecretKey === undefined ? undefined : readKeyPair(flags.curveSecretKey);
      const allowed = flags.allowKeys === undefined ? undefined : readAllowList(flags.allowKeys);
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const metrics = createCoordinatorMetrics(createRegistry(), { backend: backend.name });
      const server = await startMetrics(metrics.registry, flags, log);
      const preset = resolvePreset(flags.preset);
      const dataset = limitDataset(
        await loadDataset(flags.data, { size: preset.imageSize, channels: preset.inChannels === 1 ? 1 : 3 }),
        flags.datasetLimit,
      );
      const store = new CheckpointStore(join(flags.out, 'checkpoints'), flags.keepCheckpoints, {
        pauseMidWriteMs: checkpointPauseMs(),
      });
      const resume = findResumeCheckpoint(flags.resume, store, log);
      const zap = allowed === undefined ? undefined : new ZapHandler(allowed, log);
      await zap?.start();
      const progress = createProgress(flags.steps);
      const coordinator = new Coordinator(
        {
          run: runConfigFromFlags(flags),
          bind: flags.bind,
          minWorkers: flags.minWorkers,
          maxWorkers: flags.maxWorkers,
          limits: protocolLimits({ maxMessageBytes: flags.maxMessageMb * 1024 * 1024 }),
          log,
          metrics,
          bucketBytes: Math.round(flags.bucketMb * 1024 * 1024),
          heartbeatIntervalMs: flags.heartbeatInterval * 1000,
          heartbeatTimeoutMs: flags.heartbeatTimeout * 1000,
          checkpoints: { store, everySteps: flags.checkpointEvery, everySeconds: flags.checkpointSeconds },
          resume,
          straggler: { factor: flags.stragglerFactor, exclude: flags.excludeStragglers },
          socketOptions:
            keys === undefined
              ? undefined
              : { curveServer: true, curveSecretKey: keys.secretKey, curvePublicKey: keys.publicKey },
          onStep: (r) => progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s }),
          onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
        },
        dataset,
      );
      await coordinator.bind();
      if (keys !== undefined)
        log.info(
          { allowedKeys: allowed?.size },
          'CURVE on: only workers whose public key is in --allow-keys can connect',
        );
      const onSignal = (signal: NodeJS.Signals): void => {
        log.warn(`${signal}: writing a checkpoint and stopping; restart with --resume latest to continue`);
        coordinator
          .stop(signal)
          .catch((error: unknown) => log.error({ err: (error as Error).message }, 'stopping failed'));
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        const summary = await coordinator.run();
        progress.stop();
        if (summary.stopped !== undefined) {
          process.stdout.write(
            `stopped by ${summary.stopped.signal} after ${summary.steps} steps; checkpoint ${summary.stopped.checkpoint ?? 'none'}; continue with --resume latest\n`,
          );
        } else {
          process.stdout.write(
            `done: ${summary.steps} steps in ${summary.wallSeconds.toFixed(1)} s, final loss ${summary.finalLoss.toFixed(4)}, ${summary.skippedSteps} skipped; weights ${summary.weightsPath}\n`,
          );
        }
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await zap?.close();
        await server?.close();
      }
    });
}
