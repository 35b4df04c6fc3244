import type { Command } from 'commander';
import type { Logger } from 'pino';
import { serveMetrics, type MetricsServer } from '@ddpm/metrics';
import { runPageRoutes } from '@ddpm/run-page';
import type { Registry } from 'prom-client';
import { integer } from './flag-parsers.ts';
import { reportToParent } from './parent-report.ts';

/** The parsed flags that {@link addMetricsOptions} defines. */
export interface MetricsFlags {
  metricsPort: number;
  metricsHost: string;
  metrics: boolean;
}

/**
 * Adds --metrics-port (0 picks a free port), --metrics-host (default 127.0.0.1: only this machine can read the
 * metrics; deploy files pass 0.0.0.0 explicitly) and --no-metrics. The coordinator defaults to port 9400,
 * workers to 9401 (deploy/prometheus/prometheus.yml scrapes those).
 */
export function addMetricsOptions(command: Command, defaultPort: number): Command {
  return command
    .option(
      '--metrics-port <n>',
      'port of the Prometheus /metrics endpoint (0: any free port)',
      integer(0, 65535),
      defaultPort,
    )
    .option(
      '--metrics-host <address>',
      'address the /metrics endpoint listens on (0.0.0.0: all interfaces, for a Prometheus on another host)',
      '127.0.0.1',
    )
    .option('--no-metrics', 'do not serve /metrics');
}

/**
 * Serves `registry` as the flags say (or not at all with --no-metrics) and logs the URL. `stallTimeoutSeconds`
 * turns on the stall check of GET /healthz (the coordinator's --stall-timeout); `runDirectory` (the run's --out)
 * also serves the run page of that directory at / (see @ddpm/run-page).
 */
export async function startMetrics(
  registry: Registry,
  flags: MetricsFlags,
  log: Logger,
  options: { readonly stallTimeoutSeconds?: number; readonly runDirectory?: string } = {},
): Promise<MetricsServer | undefined> {
  if (!flags.metrics) return undefined;
  const { stallTimeoutSeconds, runDirectory } = options;
  const routes = runDirectory === undefined ? undefined : runPageRoutes(runDirectory);
  const server = await serveMetrics(registry, {
    ...{ port: flags.metricsPort, host: flags.metricsHost, stallTimeoutSeconds, routes },
  });
  log.info({ url: server.url, port: server.port }, 'serving Prometheus metrics');
  reportToParent({ metricsPort: server.port });
  if (routes !== undefined) log.info({ url: server.url.replace(/metrics$/, '') }, 'serving the run page');
  return server;
}
