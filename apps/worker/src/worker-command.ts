import { hostname } from 'node:os';
import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { protocolLimits } from '@ddpm/protocol';
import { createRegistry, createWorkerMetrics } from '@ddpm/metrics';
import { addBackendOption, addMetricsOptions, createLogger, integer, startMetrics, type MetricsFlags } from '@ddpm/runtime';
import { Worker } from './worker.ts';

interface WorkerFlags extends MetricsFlags {
  connect: string;
  name: string;
  data: string;
  imageSize?: number;
  connectTimeout: number;
  maxMessageMb: number;
  backend: BackendRequest;
}

/** `ddpm worker`: computes gradients for a coordinator. */
export function workerCommand(): Command {
  const command = new Command('worker').description('run a worker of a distributed training job (ZeroMQ DEALER)');
  addBackendOption(command);
  addMetricsOptions(command, 9401);
  return command
    .requiredOption('--connect <endpoint>', 'coordinator endpoint, e.g. tcp://10.0.0.1:5555')
    .option('--name <name>', 'worker name in logs and metrics (the `worker` label; give each worker on a host its own)', hostname())
    .option('--data <mnist|DIR|stream>', 'local copy of the dataset (same as the coordinator\'s), or "stream" to receive samples from the coordinator', 'mnist')
    .option('--image-size <n>', 'resize local images to this size (must match what the coordinator does for its preset)', integer(1, 4096))
    .option('--connect-timeout <seconds>', 'give up when the coordinator does not answer within this time', integer(1, 86400), 60)
    .option('--max-message-mb <n>', 'largest message accepted, in MiB', integer(1, 4096), 256)
    .action(async (flags: WorkerFlags) => {
      const log = createLogger('worker').child({ worker: flags.name });
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const metrics = createWorkerMetrics(createRegistry(), { worker: flags.name, backend: backend.name });
      const server = await startMetrics(metrics.registry, flags, log);
      const dataset = flags.data === 'stream' ? undefined : await loadDataset(flags.data, { size: flags.imageSize });
      const worker = new Worker({
        connect: flags.connect, name: flags.name, backend: backend.name, dataset, connectTimeoutMs: flags.connectTimeout * 1000,
        limits: protocolLimits({ maxMessageBytes: flags.maxMessageMb * 1024 * 1024 }), log, metrics,
      });
      const { steps, completed } = await worker.run().finally(() => server?.close());
      log.info({ steps, completed }, 'worker done');
    });
}
