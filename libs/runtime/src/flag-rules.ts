import type { Command } from 'commander';

/**
 * A flag the user must change: runCommand prints its message as `ddpm: <message>` and exits with its `exitCode` 2, as
 * for any bad flag.
 * Thrown by the flag rules before a command does any work, and by checks that need a file first (`ddpm sample`).
 */
export class FlagError extends Error {
  override readonly name = 'FlagError';
  readonly exitCode = 2;
}

/** The parsed flags of a command, by attribute name (`--sample-steps` is `sampleSteps`). */
export type ParsedFlags = Readonly<Record<string, unknown>>;

/** A check across flags: returns what is wrong and how to fix it, or undefined when the flags agree. */
export type FlagRule = (flags: ParsedFlags) => string | undefined;

const num = (flags: ParsedFlags, key: string): number | undefined =>
  typeof flags[key] === 'number' ? flags[key] : undefined;

/** `--sample-steps` (DDIM steps of the sample grids) cannot exceed `--timesteps` (the diffusion's T). */
export const sampleStepsWithinTimesteps: FlagRule = (flags) => {
  const [steps, timesteps] = [num(flags, 'sampleSteps'), num(flags, 'timesteps')];
  if (steps === undefined || timesteps === undefined || steps <= timesteps) return undefined;
  return `--sample-steps ${steps} exceeds --timesteps ${timesteps}: DDIM cannot take more steps than the diffusion has; pass --sample-steps ${timesteps} or fewer, or raise --timesteps.`;
};

/** `--heartbeat-timeout` must exceed `--heartbeat-interval`, or every worker would be dropped between heartbeats. */
export const heartbeatTimeoutAboveInterval: FlagRule = (flags) => {
  const [interval, timeout] = [num(flags, 'heartbeatInterval'), num(flags, 'heartbeatTimeout')];
  if (interval === undefined || timeout === undefined || timeout > interval) return undefined;
  return `--heartbeat-timeout ${timeout} must exceed --heartbeat-interval ${interval}; use at least 3 intervals, e.g. --heartbeat-timeout ${+(3 * interval).toPrecision(6)}.`;
};

/** `--min-workers` cannot exceed `--max-workers`: the first step would wait for workers that are refused. */
export const minWorkersWithinMax: FlagRule = (flags) => {
  const [min, max] = [num(flags, 'minWorkers'), num(flags, 'maxWorkers')];
  if (min === undefined || max === undefined || min <= max) return undefined;
  return `--min-workers ${min} exceeds --max-workers ${max}: steps would wait for workers that are refused; raise --max-workers to at least ${min} or lower --min-workers.`;
};

/** Flags that only work together: both given, or neither (the CURVE key files). */
export function pairedFlags(first: string, second: string, purpose: string): FlagRule {
  const key = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return (flags) => {
    const [a, b] = [flags[key(first)] !== undefined, flags[key(second)] !== undefined];
    if (a === b) return undefined;
    const [given, missing] = a ? [first, second] : [second, first];
    return `${given} needs ${missing}: they go together; pass both to ${purpose}, or neither.`;
  };
}

/** `ddpm bench allreduce`: the untimed `--warmup` steps must leave at least one timed step of `--steps`. */
export const warmupBelowSteps: FlagRule = (flags) => {
  const [warmup, steps] = [num(flags, 'warmup'), num(flags, 'steps')];
  if (warmup === undefined || steps === undefined || warmup < steps) return undefined;
  return `--warmup ${warmup} leaves no timed step of --steps ${steps}; pass --warmup ${steps - 1} or fewer, or raise --steps.`;
};

/** The messages of every rule in `rules` that `flags` break, in rule order (pure, for tests). */
export function brokenFlagRules(flags: ParsedFlags, rules: readonly FlagRule[]): string[] {
  return rules.map((rule) => rule(flags)).filter((message): message is string => message !== undefined);
}

/**
 * Checks `rules` in a commander preAction hook of `command`, so a bad combination of flags stops the command before
 * its action does any work (loads data, binds a socket, trains). The first broken rule is thrown as a FlagError.
 */
export function addFlagRules(command: Command, rules: readonly FlagRule[]): Command {
  return command.hook('preAction', (self) => {
    const [first] = brokenFlagRules(self.opts(), rules);
    if (first !== undefined) throw new FlagError(first);
  });
}
