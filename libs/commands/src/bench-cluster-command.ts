import type { Command } from 'commander';
import { addFlagRules, decimal, integer, oneOf } from '@ddpm/runtime';
import { WIRE_DTYPES, type WireDtype } from '@ddpm/protocol';
import { benchCluster } from './bench-cluster.ts';
import { TOPOLOGIES, type Topology } from './cluster-figures.ts';
import { COMMAND_RULES } from './command-rules.ts';

/** `ddpm bench cluster`: the allreduce bench on an emulated multi-host network (namespaces, shaped links; root). */
export function addClusterBench(bench: Command): void {
  const cluster = bench.command('cluster');
  addFlagRules(cluster, COMMAND_RULES.benchCluster);
  cluster
    .description(
      'time synchronous steps with the coordinator and N workers each in its own network namespace, every link shaped to --link-gbps both ways (needs root)',
    )
    .option('--workers <n>', 'worker processes (one namespace each)', integer(1, 64), 4)
    .option('--link-gbps <gbps>', "each host's link speed in Gbit/s, both directions", decimal(0.001, 100), 1)
    .option(
      '--params <n>',
      'parameters per gradient: the size of a preset (1112801 = mnist-bench)',
      integer(1),
      1112801,
    )
    .option('--compute-ms <ms>', "each worker's simulated compute per step", integer(0, 600000), 400)
    .option('--topology <name>', `gradient exchange: ${TOPOLOGIES.join(', ')}`, oneOf(TOPOLOGIES), 'star')
    .option(
      '--wire-dtype <dtype>',
      `dtype of the gradients workers send: ${WIRE_DTYPES.join(', ')}`,
      oneOf(WIRE_DTYPES),
      'float32',
    )
    .option('--steps <n>', 'steps to run', integer(2, 100000), 20)
    .option('--warmup <n>', 'first steps not timed', integer(0), 5)
    .option(
      '--bucket-mb <n>',
      'gradient bucket size in MiB (ddpm coordinator --bucket-mb)',
      decimal(0.0625, 1024),
      0.25,
    )
    .action(
      async (flags: {
        workers: number;
        linkGbps: number;
        params: number;
        computeMs: number;
        topology: Topology;
        steps: number;
        warmup: number;
        bucketMb: number;
        wireDtype: WireDtype;
      }) => {
        const result = await benchCluster(flags);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      },
    );
}
