import type { Command } from 'commander';
import type { Logger } from 'pino';
import {
  createCoordinatorMetrics,
  createRegistry,
  ProgressTracker,
  trackCoordinatorProgress,
  type CoordinatorMetrics,
  type MetricsServer,
} from '@ddpm/metrics';
import { integer, startMetrics, type MetricsFlags } from '@ddpm/runtime';

/** The flag {@link addStallTimeoutOption} defines. */
export interface StallFlags {
  stallTimeout: number;
}

/** Default --stall-timeout: 15 minutes, well above a slow step (cifar-ddpm on one wasm core: about a minute). */
export const DEFAULT_STALL_TIMEOUT_SECONDS = 900;

/** Adds --stall-timeout SECONDS (0 turns the check off). */
export function addStallTimeoutOption(command: Command): Command {
  return command.option(
    '--stall-timeout <seconds>',
    'GET /healthz on the metrics port answers 503 when no step completed for this long while workers are connected (0: off)',
    integer(0, 7 * 24 * 3600),
    DEFAULT_STALL_TIMEOUT_SECONDS,
  );
}

/**
 * Creates the coordinator's metrics and serves them (unless --no-metrics), with GET /healthz fed by the steps,
 * skipped steps and connected workers the engine reports through the returned metrics.
 */
export async function startCoordinatorMetrics(
  backend: string,
  flags: MetricsFlags & StallFlags & { readonly out: string },
  log: Logger,
): Promise<{ metrics: CoordinatorMetrics; server: MetricsServer | undefined }> {
  const metrics = createCoordinatorMetrics(createRegistry(), { backend });
  const options = { stallTimeoutSeconds: flags.stallTimeout, runDirectory: flags.out };
  const server = await startMetrics(metrics.registry, flags, log, options);
  if (server === undefined) return { metrics, server };
  const tracker = new ProgressTracker((state) => server.publishLiveness(state));
  return { metrics: trackCoordinatorProgress(metrics, tracker), server };
}
