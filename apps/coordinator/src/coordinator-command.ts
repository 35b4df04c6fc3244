import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { protocolLimits } from '@ddpm/protocol';
import { createCoordinatorMetrics, createRegistry } from '@ddpm/metrics';
import { addBackendOption, addMetricsOptions, addRunOptions, createLogger, createProgress, integer, runConfigFromFlags, startMetrics, type MetricsFlags, type RunFlags } from '@ddpm/runtime';
import { resolvePreset } from '@ddpm/unet';
import { Coordinator } from './coordinator.ts';

interface CoordinatorFlags extends RunFlags, MetricsFlags {
  bind: string;
  minWorkers: number;
  maxWorkers: number;
  maxMessageMb: number;
  backend: BackendRequest;
}

/** `ddpm coordinator`: owns the run and serves workers over ZeroMQ. */
export function coordinatorCommand(): Command {
  const command = new Command('coordinator').description('run the coordinator of a distributed training job (ZeroMQ ROUTER)');
  addRunOptions(command, { out: 'runs/cluster', batchHelp: 'local batch: images per worker per step (global batch = batch × workers)' });
  addBackendOption(command);
  addMetricsOptions(command, 9400);
  return command
    .option('--bind <endpoint>', 'ZeroMQ endpoint to listen on', 'tcp://*:5555')
    .option('--min-workers <n>', 'steps wait until this many workers are connected', integer(1, 4096), 1)
    .option('--max-workers <n>', 'refuse workers beyond this many', integer(1, 4096), 64)
    .option('--max-message-mb <n>', 'largest message accepted, in MiB', integer(1, 4096), 256)
    .action(async (flags: CoordinatorFlags) => {
      if (flags.maxWorkers < flags.minWorkers) throw new Error(`--max-workers ${flags.maxWorkers} is below --min-workers ${flags.minWorkers}; raise --max-workers.`);
      const log = createLogger('coordinator');
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const metrics = createCoordinatorMetrics(createRegistry(), { backend: backend.name });
      const server = await startMetrics(metrics.registry, flags, log);
      const preset = resolvePreset(flags.preset);
      const dataset = await loadDataset(flags.data, { size: preset.imageSize, channels: preset.inChannels === 1 ? 1 : 3 });
      const progress = createProgress(flags.steps);
      const coordinator = new Coordinator(
        {
          run: runConfigFromFlags(flags), bind: flags.bind, minWorkers: flags.minWorkers, maxWorkers: flags.maxWorkers,
          limits: protocolLimits({ maxMessageBytes: flags.maxMessageMb * 1024 * 1024 }), log, metrics,
          onStep: (r) => progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s }),
          onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
        },
        dataset,
      );
      await coordinator.bind();
      const summary = await coordinator.run().finally(() => server?.close());
      progress.stop();
      process.stdout.write(`done: ${summary.steps} steps in ${summary.wallSeconds.toFixed(1)} s, final loss ${summary.finalLoss.toFixed(4)}, ${summary.skippedSteps} skipped; weights ${summary.weightsPath}\n`);
    });
}
