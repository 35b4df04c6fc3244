import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { Registry } from 'prom-client';
import { serveMetrics } from '@ddpm/metrics';
import { runPageRoutes } from '@ddpm/run-page';
import { FlagError, integer } from '@ddpm/runtime';

interface PageFlags {
  out: string;
  metricsPort: number;
  metricsHost: string;
}

/**
 * `ddpm page`: serves the run page of a run directory read-only, as the coordinator does while it trains: for a finished
 * run, or for one whose directory is shared with this machine. Prints the URL, serves until SIGINT or SIGTERM, then
 * exits 0. Without a training process there are no live workers or configuration; loss, FD and grids come from the
 * files and follow them as they grow.
 */
export function pageCommand(): Command {
  return new Command('page')
    .description("serve a run directory's run page (loss, FD, sample grids), e.g. of a finished run")
    .requiredOption('--out <dir>', "the run's --out directory")
    .option('--metrics-port <n>', 'HTTP port (0: any free port)', integer(0, 65535), 9400)
    .option('--metrics-host <address>', 'address to listen on (0.0.0.0: all interfaces)', '127.0.0.1')
    .action(async (flags: PageFlags) => {
      if (!['metrics.jsonl', 'eval.jsonl', 'samples'].some((name) => existsSync(join(flags.out, name)))) {
        throw new FlagError(
          `--out ${flags.out}: no metrics.jsonl, eval.jsonl or samples/ there; pass the --out directory of a run.`,
        );
      }
      const routes = runPageRoutes(flags.out);
      const server = await serveMetrics(new Registry(), { port: flags.metricsPort, host: flags.metricsHost, routes });
      process.stdout.write(`run page: ${server.url.replace(/metrics$/, '')}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
