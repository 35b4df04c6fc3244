import type { Command } from 'commander';
import { WIRE_DTYPES, type WireDtype } from '@ddpm/protocol';
import { decimal, integer, oneOf, TOPOLOGIES, type Topology } from '@ddpm/runtime';

/** Parses --bucket-mb (MiB), for `ddpm coordinator` and the benches alike: 1/128 MiB lets a scaled-down run scale its buckets. */
export const bucketMegabytes = decimal(1 / 128, 1024);

/** The flags `bench allreduce` and `bench cluster` share: the simulated run they time, and how much of it. */
export interface SimulatedStepFlags {
  workers: number;
  params: number;
  computeMs: number;
  steps: number;
  warmup: number;
  bucketMb: number;
  topology: Topology;
  wireDtype: WireDtype;
}

/** Adds the SimulatedStepFlags options, with `steps` steps by default. */
export function addSimulatedStepOptions(command: Command, steps: number): Command {
  return command
    .option('--workers <n>', 'worker processes', integer(1, 64), 4)
    .option(
      '--params <n>',
      'parameters per gradient: the size of a preset (1112801 = mnist-bench)',
      integer(1),
      1112801,
    )
    .option('--compute-ms <ms>', "each worker's simulated compute per step", integer(0, 600000), 400)
    .option('--steps <n>', 'steps to run', integer(2, 100000), steps)
    .option('--warmup <n>', 'first steps not timed', integer(0), 5)
    .option('--bucket-mb <n>', 'gradient bucket size in MiB (ddpm coordinator --bucket-mb)', bucketMegabytes, 0.25)
    .option('--topology <name>', `gradient exchange: ${TOPOLOGIES.join(', ')}`, oneOf(TOPOLOGIES), 'star')
    .option(
      '--wire-dtype <dtype>',
      `dtype of gradients and update deltas on the wire: ${WIRE_DTYPES.join(', ')}`,
      oneOf(WIRE_DTYPES),
      'float32',
    );
}
