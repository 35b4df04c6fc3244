import {
  heartbeatTimeoutAboveInterval,
  minWorkersWithinMax,
  outerFlagsNeedSyncEvery,
  pairedFlags,
  syncEveryNeedsStar,
  sampleStepsWithinTimesteps,
  warmupBelowSteps,
  type FlagRule,
} from '@ddpm/runtime';
import { killEveryBelowSteps } from './bench-allreduce-soak.ts';

/**
 * Which cross-flag rules each subcommand checks before it does any work (addFlagRules). A single flag's range is
 * checked by its parser; these are the checks that need two flags. docs/reliability.md lists them.
 */
export const COMMAND_RULES = {
  train: [sampleStepsWithinTimesteps],
  local: [sampleStepsWithinTimesteps, heartbeatTimeoutAboveInterval, outerFlagsNeedSyncEvery, syncEveryNeedsStar],
  coordinator: [
    sampleStepsWithinTimesteps,
    heartbeatTimeoutAboveInterval,
    minWorkersWithinMax,
    outerFlagsNeedSyncEvery,
    syncEveryNeedsStar,
    pairedFlags('--curve-secret-key', '--allow-keys', 'enable CURVE'),
  ],
  worker: [pairedFlags('--curve-key', '--coordinator-key', 'use CURVE')],
  benchAllreduce: [warmupBelowSteps, killEveryBelowSteps],
  benchCluster: [warmupBelowSteps],
} as const satisfies Record<string, readonly FlagRule[]>;
