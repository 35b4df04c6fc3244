import type { Command } from 'commander';
import { BACKEND_NAMES, type BackendRequest } from '@ddpm/backend';
import { DEFAULT_OPTIMIZER, type RunConfig } from '@ddpm/training';
import { PRESET_NAMES } from '@ddpm/unet';
import { decimal, integer, oneOf } from './flag-parsers.ts';

/** The parsed flags that {@link addRunOptions} defines. */
export interface RunFlags {
  preset: string;
  data: string;
  steps: number;
  batch: number;
  out: string;
  seed: number;
  lr: number;
  warmup: number;
  clip: number;
  emaDecay: number;
  schedule: 'linear' | 'cosine';
  timesteps: number;
  sampleEvery: number;
  sampleCount: number;
  sampleSteps: number;
}

/**
 * Adds the flags that define a training run (model, data, optimiser, diffusion, outputs) to `command`.
 * `ddpm train` and `ddpm coordinator` share them, so a run means the same thing in one process or many.
 * `batchHelp` says what --batch counts (per process, or per worker).
 */
export function addRunOptions(command: Command, defaults: { out: string; batchHelp: string }): Command {
  return command
    .option('--preset <name>', `model preset: ${PRESET_NAMES.join(', ')}`, oneOf(PRESET_NAMES), 'mnist-bench')
    .option(
      '--data <mnist|DIR>',
      'dataset: "mnist" (bundled test set), an MNIST IDX directory, or a folder of PNG images',
      'mnist',
    )
    .option('--steps <n>', 'optimizer steps', integer(1), 500)
    .option('--batch <n>', defaults.batchHelp, integer(1, 65536), 32)
    .option('--out <dir>', 'run directory (metrics.jsonl, samples/, weights.ddpm, summary.json)', defaults.out)
    .option('--seed <n>', 'seed for initial weights, data order and noise', integer(0, 2 ** 32 - 1), 0)
    .option('--lr <x>', 'peak Adam learning rate', decimal(0, 1), DEFAULT_OPTIMIZER.lr)
    .option('--warmup <steps>', 'linear learning-rate warm-up steps (0 disables)', integer(0), DEFAULT_OPTIMIZER.warmup)
    .option('--clip <norm>', 'maximum global gradient norm', decimal(1e-12, 1e12), DEFAULT_OPTIMIZER.clip)
    .option('--ema-decay <x>', 'EMA decay of the weights', decimal(0, 0.999999999), DEFAULT_OPTIMIZER.emaDecay)
    .option('--schedule <kind>', 'noise schedule: linear, cosine', oneOf(['linear', 'cosine'] as const), 'linear')
    .option('--timesteps <T>', 'diffusion steps T', integer(2, 100000), 1000)
    .option('--sample-every <steps>', 'write a sample grid every N steps (0: only at the end)', integer(0), 250)
    .option('--sample-count <n>', 'images per sample grid', integer(1, 1024), 16)
    .option('--sample-steps <S>', 'DDIM steps for the sample grids', integer(1, 100000), 50);
}

/** Adds `--backend` (the names of BACKEND_NAMES: auto, tensorflow, webgpu, wasm, cpu). */
export function addBackendOption(command: Command): Command {
  return command.option(
    '--backend <name>',
    `tfjs backend: ${BACKEND_NAMES.join(', ')}`,
    oneOf<BackendRequest>(BACKEND_NAMES),
    'auto',
  );
}

/** The RunConfig the flags describe. */
export function runConfigFromFlags(flags: RunFlags): RunConfig {
  return {
    preset: flags.preset,
    steps: flags.steps,
    batch: flags.batch,
    seed: flags.seed,
    out: flags.out,
    optimizer: { ...DEFAULT_OPTIMIZER, lr: flags.lr, warmup: flags.warmup, clip: flags.clip, emaDecay: flags.emaDecay },
    schedule: { kind: flags.schedule, timesteps: flags.timesteps },
    sampleEvery: flags.sampleEvery,
    sampleCount: flags.sampleCount,
    sampleSteps: flags.sampleSteps,
  };
}

/**
 * Turns parsed flags back into command-line arguments (`--name value`, or `--name` for true booleans), for the options
 * `command` defines, except those in `exclude` (attribute names). Used to hand a run's flags on to child processes.
 */
export function optionsToArgs(command: Command, flags: object, exclude: readonly string[] = []): string[] {
  const values = flags as Record<string, unknown>;
  const args: string[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    const value = values[key];
    if (exclude.includes(key) || value === undefined || option.long === undefined) continue;
    if (typeof value === 'boolean') {
      if (value && !option.negate) args.push(option.long);
      if (!value && option.negate) args.push(option.long);
    } else {
      args.push(option.long, String(value));
    }
  }
  return args;
}
