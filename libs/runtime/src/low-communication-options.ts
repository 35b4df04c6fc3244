import type { Command } from 'commander';
import type { LowCommunicationConfig, RunConfig } from '@ddpm/training';
import { decimal, integer } from './flag-parsers.ts';
import type { FlagRule } from './flag-rules.ts';

/** DiLoCo's outer step (Douillard et al. 2023): learning rate 0.7, Nesterov momentum 0.9. */
export const DEFAULT_OUTER_LR = 0.7;
export const DEFAULT_OUTER_MOMENTUM = 0.9;

/** The parsed flags that {@link addLowCommunicationOptions} defines (the outer ones undefined when not given). */
export interface LowCommunicationFlags {
  syncEvery: number;
  outerLr?: number;
  outerMomentum?: number;
}

/**
 * Adds --sync-every, --outer-lr and --outer-momentum: the low-communication mode (DiLoCo) of `ddpm coordinator` and
 * `ddpm local`. --sync-every 1 (the default) is synchronous training, unchanged.
 */
export function addLowCommunicationOptions(command: Command): Command {
  return command
    .option(
      '--sync-every <H>',
      'low-communication mode (DiLoCo): each worker takes H inner Adam steps on its own batches per step, then the coordinator averages the parameter deltas and takes an outer Nesterov step (1: synchronous training)',
      integer(1, 100000),
      1,
    )
    .option(
      '--outer-lr <x>',
      `learning rate of the outer Nesterov step, with --sync-every 2 or more (default ${DEFAULT_OUTER_LR})`,
      decimal(1e-6, 10),
    )
    .option(
      '--outer-momentum <x>',
      `momentum of the outer Nesterov step, with --sync-every 2 or more (default ${DEFAULT_OUTER_MOMENTUM})`,
      decimal(0, 0.999),
    );
}

/** --outer-lr and --outer-momentum only mean something with --sync-every 2 or more. */
export const outerFlagsNeedSyncEvery: FlagRule = (flags) => {
  const given = ['outerLr', 'outerMomentum'].filter((key) => flags[key] !== undefined);
  if (given.length === 0 || (typeof flags.syncEvery === 'number' && flags.syncEvery > 1)) return undefined;
  const names = given.map((key) => (key === 'outerLr' ? '--outer-lr' : '--outer-momentum')).join(' and ');
  return `${names} set the outer step of the low-communication mode, which --sync-every ${String(flags.syncEvery ?? 1)} does not use; pass --sync-every 2 or more (e.g. --sync-every 10), or drop ${names}.`;
};

/**
 * --sync-every 2 or more runs over the star only: its inner states travel to the coordinator with the outer gradient
 * (checks `topology` when the command has the flag).
 */
export const syncEveryNeedsStar: FlagRule = (flags) => {
  if (!(typeof flags.syncEvery === 'number' && flags.syncEvery > 1)) return undefined;
  if (flags.topology === undefined || flags.topology === 'star') return undefined;
  return `--sync-every ${flags.syncEvery} runs with --topology star only (its inner states travel to the coordinator); pass --topology star, or --sync-every 1 to use --topology ${String(flags.topology)}.`;
};

/** The run with its low-communication settings: unchanged (no lowCommunication at all) for --sync-every 1. */
export function withLowCommunication(run: RunConfig, flags: LowCommunicationFlags): RunConfig {
  if (flags.syncEvery <= 1) return run;
  const lowCommunication: LowCommunicationConfig = {
    syncEvery: flags.syncEvery,
    outerLr: flags.outerLr ?? DEFAULT_OUTER_LR,
    outerMomentum: flags.outerMomentum ?? DEFAULT_OUTER_MOMENTUM,
  };
  return { ...run, lowCommunication };
}
