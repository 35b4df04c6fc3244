import { InvalidArgumentError, Option, type Command } from 'commander';
import { WIRE_DTYPES, type WireDtype } from '@ddpm/protocol';
import { decimal, integer, oneOf } from './flag-parsers.ts';
import { addLowCommunicationOptions, type LowCommunicationFlags } from './low-communication-options.ts';

/** The parsed flags that {@link addCheckpointOptions} defines. */
export interface CheckpointFlags {
  checkpointEvery: number;
  checkpointSeconds: number;
  keepCheckpoints: number;
  resume?: string;
  datasetLimit?: number;
}

/** The parsed flags that {@link addJobOptions} defines. */
export interface JobFlags extends CheckpointFlags, LowCommunicationFlags {
  heartbeatInterval: number;
  heartbeatTimeout: number;
  stragglerFactor: number;
  excludeStragglers: boolean;
  stepTimeout: 'auto' | number;
  wireDtype: WireDtype;
  topology: Topology;
}

/** How gradients travel (see docs/topology.md): through the coordinator, or reduced by the workers themselves. */
export const TOPOLOGIES = ['star', 'sharded'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** Adds the checkpoint and resume flags; `ddpm train`, `ddpm local` and `ddpm coordinator` share them. */
export function addCheckpointOptions(command: Command): Command {
  return command
    .option(
      '--checkpoint-every <steps>',
      'write a checkpoint every N steps (0: only by time, at the end and on SIGTERM/SIGINT)',
      integer(0),
      100,
    )
    .option(
      '--checkpoint-seconds <s>',
      'also write one when this many seconds passed since the last (0: off)',
      integer(0),
      600,
    )
    .option('--keep-checkpoints <k>', 'keep the newest K checkpoints in OUT/checkpoints', integer(1, 100000), 3)
    .option(
      '--resume <latest|PATH>',
      'continue a run: "latest" (newest readable checkpoint in OUT/checkpoints) or a checkpoint file',
    )
    .addOption(
      new Option('--dataset-limit <n>', 'developer aid: use only the first N images (short epochs for tests)')
        .argParser(integer(1))
        .hideHelp(),
    );
}

/**
 * Adds the coordinator's job-control flags (checkpoints, resume, heartbeats, stragglers) to `command`.
 * `ddpm coordinator` and `ddpm local` (which hands them to its coordinator) share them.
 */
export function addJobOptions(command: Command): Command {
  return addLowCommunicationOptions(addCheckpointOptions(command))
    .option('--heartbeat-interval <s>', 'heartbeat period, both directions', decimal(0.01, 3600), 2)
    .option(
      '--heartbeat-timeout <s>',
      'drop a worker silent this long; must exceed the longest step compute of any worker',
      decimal(0.05, 86400),
      30,
    )
    .option(
      '--straggler-factor <x>',
      'report a worker whose step time exceeds x × the median of the others (persistently)',
      decimal(1.01, 1000),
      2,
    )
    .option(
      '--step-timeout <auto|s>',
      'drop a worker that has not sent its whole gradient this many seconds after its StepStart (0: never); auto = max(30, 2 x --heartbeat-timeout, 5 x median step time), at least 300 for a first step',
      stepTimeout,
      'auto',
    )
    .option(
      '--wire-dtype <dtype>',
      `dtype of gradients and update deltas on the wire: ${WIRE_DTYPES.join(', ')} (bfloat16 halves those bytes; averages and Adam stay float32)`,
      oneOf(WIRE_DTYPES),
      'float32',
    )
    .option(
      '--topology <name>',
      `how gradients travel: ${TOPOLOGIES.join(', ')} (sharded: each worker reduces a share of the buckets for the others, so no link carries more than about 2 x the parameters per step; workers need --peer-endpoint)`,
      oneOf(TOPOLOGIES),
      'star',
    )
    .option(
      '--exclude-stragglers',
      'drop a worker once it is reported as a straggler (never below --min-workers)',
      false,
    );
}

/** Parses --step-timeout: 'auto' or seconds from 0 (no deadline) to 86400. */
function stepTimeout(value: string): 'auto' | number {
  if (value.trim() === 'auto') return 'auto';
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86400)
    throw new InvalidArgumentError(`expected "auto" or seconds from 0 (no deadline) to 86400, got "${value}".`);
  return n;
}
