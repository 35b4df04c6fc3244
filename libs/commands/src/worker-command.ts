import { hostname } from 'node:os';
import { memory } from '@tensorflow/tfjs-core';
import { Command, InvalidArgumentError, Option } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { protocolLimits, readKeyPair, readPublicKey } from '@ddpm/protocol';
import { createRegistry, createWorkerMetrics } from '@ddpm/metrics';
import {
  addBackendOption,
  addFlagRules,
  addMetricsOptions,
  createLogger,
  endpointFlag,
  integer,
  startMetrics,
  type MetricsFlags,
} from '@ddpm/runtime';
import { limitDataset } from '@ddpm/training';
import { InnerSteps, ModelGradients, SimulatedGradients, Worker, withFaults, type WorkerFaults } from '@ddpm/cluster';
import { COMMAND_RULES } from './command-rules.ts';
import { stoppableBy } from './run-setup.ts';

interface WorkerFlags extends MetricsFlags {
  connect: string;
  peerEndpoint?: string;
  name: string;
  data: string;
  imageSize?: number;
  connectTimeout: number;
  reconnectTimeout: number;
  maxMessageMb: number;
  backend: BackendRequest;
  curveKey?: string;
  coordinatorKey?: string;
  datasetLimit?: number;
  simulateComputeMs?: number;
}

/**
 * Test hooks, read from the environment by the worker only and never needed in production:
 * - DDPM_FAULT_NAN_STEP=k: the gradient of step k gets a NaN (tests the non-finite skip);
 * - DDPM_FAULT_DELAY_MS=ms: every step waits that long before computing (tests straggler reporting);
 * - DDPM_FAULT_FAIL_STEP=k: the compute of step k throws, as a lost GPU device does (tests the fatal report);
 * - DDPM_FAULT_SILENT_STEP=k: step k is computed but no gradient is sent, heartbeats go on (tests the step deadline);
 *   once: when step k runs again (sharded topology), it is sent.
 */
function faultsFromEnvironment(): WorkerFaults {
  const read = (name: string): number | undefined => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`${name}=${raw} is not a non-negative integer; unset it (it is a test hook).`);
    return value;
  };
  return {
    nanStep: read('DDPM_FAULT_NAN_STEP'),
    delayMs: read('DDPM_FAULT_DELAY_MS'),
    failStep: read('DDPM_FAULT_FAIL_STEP'),
    silentStep: read('DDPM_FAULT_SILENT_STEP'),
  };
}

/** `ddpm worker`: computes gradients for a coordinator. */
export function workerCommand(): Command {
  const command = new Command('worker').description('run a worker of a distributed training job (ZeroMQ DEALER)');
  addBackendOption(command);
  addMetricsOptions(command, 9401);
  addFlagRules(command, COMMAND_RULES.worker);
  return command
    .requiredOption(
      '--connect <endpoint>',
      'coordinator endpoint: tcp://HOST:PORT or ipc://PATH, e.g. tcp://10.0.0.1:5555',
      endpointFlag('connect'),
    )
    .option(
      '--peer-endpoint <endpoint>',
      'sharded topology (coordinator --topology sharded): where the other workers reach this one, tcp://ADDRESS:PORT with an address they can route to (port 0 picks a free one)',
      peerEndpointFlag,
    )
    .option(
      '--name <name>',
      'worker name in logs and metrics (the `worker` label; give each worker on a host its own)',
      hostname(),
    )
    .option(
      '--data <mnist|DIR|stream>',
      'local copy of the dataset (same as the coordinator\'s), or "stream" to receive samples from the coordinator',
      'mnist',
    )
    .option(
      '--image-size <n>',
      'resize local images to this size (must match what the coordinator does for its preset)',
      integer(1, 4096),
    )
    .option(
      '--connect-timeout <seconds>',
      'give up when the coordinator does not answer within this time',
      integer(1, 86400),
      60,
    )
    .option(
      '--reconnect-timeout <seconds>',
      'after losing the coordinator, keep reconnecting (with backoff) this long',
      integer(1, 864000),
      300,
    )
    .option('--max-message-mb <n>', 'largest message accepted, in MiB', integer(1, 4096), 256)
    .option(
      '--curve-key <file>',
      "this worker's CURVE key pair (ddpm keygen); its .pub must be in the coordinator's --allow-keys",
    )
    .option('--coordinator-key <file>', "the coordinator's CURVE public key (its .pub file); required with --curve-key")
    .addOption(
      new Option('--dataset-limit <n>', 'developer aid: use only the first N images (must match the coordinator)')
        .argParser(integer(1))
        .hideHelp(),
    )
    .addOption(
      new Option(
        '--simulate-compute-ms <ms>',
        'benchmark aid (ddpm bench allreduce): sleep instead of computing; send a real-size gradient',
      )
        .argParser(integer(0))
        .hideHelp(),
    )
    .action(async (flags: WorkerFlags) => {
      const log = createLogger('worker').child({ worker: flags.name });
      const curve =
        flags.curveKey === undefined || flags.coordinatorKey === undefined
          ? undefined
          : { keys: readKeyPair(flags.curveKey), serverKey: readPublicKey(flags.coordinatorKey) };
      const faults = faultsFromEnvironment();
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const metrics = createWorkerMetrics(createRegistry(), { worker: flags.name, backend: backend.name, memory });
      const server = await startMetrics(metrics.registry, flags, log);
      const dataset =
        flags.data === 'stream'
          ? undefined
          : limitDataset(await loadDataset(flags.data, { size: flags.imageSize }), flags.datasetLimit);
      const compute =
        flags.simulateComputeMs === undefined
          ? new ModelGradients(dataset)
          : new SimulatedGradients(flags.simulateComputeMs);
      const worker = new Worker(
        {
          ...{ connect: flags.connect, name: flags.name, backend: backend.name, dataset, log, metrics, curve },
          peerEndpoint: flags.peerEndpoint,
          ...{ connectTimeoutMs: flags.connectTimeout * 1000, reconnectTimeoutMs: flags.reconnectTimeout * 1000 },
          limits: protocolLimits({ maxMessageBytes: flags.maxMessageMb * 1024 * 1024 }),
        },
        // InnerSteps takes H inner steps per StepStart when the Welcome says --sync-every H > 1; otherwise it passes through.
        withFaults(new InnerSteps(compute, log), faults, log),
      );
      const leave = (signal: NodeJS.Signals): void => {
        log.info(`${signal}: leaving the run`);
        worker
          .leave(signal)
          .catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not send Leave'));
      };
      try {
        const { steps, completed } = await stoppableBy(leave, () => worker.run());
        log.info({ steps, completed }, 'worker done');
      } finally {
        await server?.close();
      }
    });
}

/** Parses --peer-endpoint: tcp://ADDRESS:PORT with a concrete address (the others connect to exactly this). */
function peerEndpointFlag(value: string): string {
  const match = /^tcp:\/\/([^\s:*]+):(\d{1,5})$/.exec(value.trim());
  if (match === null || Number(match[2]) > 65535 || match[1] === '0.0.0.0')
    throw new InvalidArgumentError(
      `expected tcp://ADDRESS:PORT with an address the other workers can reach (not * or 0.0.0.0), e.g. tcp://10.0.0.7:5600, got "${value}".`,
    );
  return value.trim();
}
