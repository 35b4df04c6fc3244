import type { Command } from 'commander';
import { addFlagRules, decimal } from '@ddpm/runtime';
import { benchCluster } from './bench-cluster.ts';
import { COMMAND_RULES } from './command-rules.ts';
import { addSimulatedStepOptions, type SimulatedStepFlags } from './simulated-step-options.ts';

/** `ddpm bench cluster`: the allreduce bench on an emulated multi-host network (namespaces, shaped links; root). */
export function addClusterBench(bench: Command): void {
  const cluster = bench.command('cluster');
  addFlagRules(cluster, COMMAND_RULES.benchCluster);
  addSimulatedStepOptions(cluster, 20);
  cluster
    .description(
      'time synchronous steps with the coordinator and N workers each in its own network namespace, every link shaped to --link-gbps both ways (needs root)',
    )
    .option('--link-gbps <gbps>', "each host's link speed in Gbit/s, both directions", decimal(0.001, 100), 1)
    .action(async (flags: SimulatedStepFlags & { linkGbps: number }) => {
      const result = await benchCluster(flags);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
