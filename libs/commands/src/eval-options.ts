import type { Command } from 'commander';
import type { BackendRequest } from '@ddpm/backend';
import { EvalRunner, isMnistShape, type EvalLine } from '@ddpm/evaluation';
import type { CoordinatorMetrics } from '@ddpm/metrics';
import { FlagError, integer } from '@ddpm/runtime';
import type { RunConfig } from '@ddpm/training';
import { resolvePreset } from '@ddpm/unet';

/** The evaluation-during-training flags of train, local and coordinator. */
export interface EvalFlags {
  evalEvery: number;
  evalCount: number;
  evalBatchSize: number;
  evalFeatures?: string;
}

/** Adds --eval-every, --eval-count, --eval-batch-size and --eval-features to a training command. */
export function addEvalOptions(command: Command): Command {
  return command
    .option(
      '--eval-every <N>',
      'measure sample quality (eval.jsonl, ddpm_sample_fd) every N steps and at the end; 0: never',
      integer(0),
      0,
    )
    .option('--eval-count <K>', 'images per evaluation (and per real set of its floor)', integer(2, 100000), 1000)
    .option('--eval-batch-size <n>', 'images an evaluation draws at once (bounds its memory)', integer(1, 4096), 100)
    .option('--eval-features <model.json>', 'TensorFlow.js model for the features (needed for non-MNIST images)');
}

/**
 * Starts the evaluation child process when --eval-every is set: its results go to OUT/eval.jsonl and to the
 * ddpm_sample_fd gauges. Fails before training, exit 2, for non-MNIST images without --eval-features or an
 * --eval-count the data cannot give twice.
 */
export async function startEvaluation(
  flags: EvalFlags & { data: string; backend: BackendRequest },
  run: RunConfig,
  log: { info(message: string): void; warn(message: string): void },
  metrics?: CoordinatorMetrics,
): Promise<EvalRunner | undefined> {
  if (flags.evalEvery === 0) return undefined;
  const config = resolvePreset(run.preset);
  if (flags.evalFeatures === undefined && !isMnistShape(config.imageSize, config.imageSize, config.inChannels)) {
    throw new FlagError(
      `--eval-every: preset ${run.preset} draws ${config.imageSize}x${config.imageSize}x${config.inChannels} images, and ` +
        'the bundled classifier measures 28x28 grey digits only; pass --eval-features model.json (a TensorFlow.js ' +
        'model for your images) or leave --eval-every out.',
    );
  }
  return EvalRunner.start({
    ...{ out: run.out, config, schedule: run.schedule, data: flags.data, features: flags.evalFeatures },
    ...{ count: flags.evalCount, batchSize: flags.evalBatchSize, sampleSteps: run.sampleSteps, seed: run.seed },
    backend: flags.backend,
    log,
    onResult: (line: EvalLine) => metrics?.recordEvaluation({ fd: line.fd, fdFloor: line.fd_floor }),
  });
}
