import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { makeSchedule } from '@ddpm/diffusion-core';
import { writeImageGrid } from '@ddpm/data';
import { drawSamplesInBatches } from '@ddpm/evaluation';
import { loadWeights, SAMPLER_NAMES, type SamplerName } from '@ddpm/training';
import { UNet } from '@ddpm/unet';
import { addBackendOption, createLogger, decimal, FlagError, integer, oneOf } from '@ddpm/runtime';

interface SampleFlags {
  weights: string;
  out: string;
  count: number;
  batchSize: number;
  sampler: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  backend: BackendRequest;
  ema: boolean;
}

/** `ddpm sample`: draws an image grid PNG from saved weights, `--batch-size` images at a time. */
export function sampleCommand(): Command {
  const command = new Command('sample')
    .description('draw a grid of images from trained weights')
    .requiredOption(
      '--weights <file>',
      'weights written by training (DIR/weights.ddpm) or a checkpoint (DIR/checkpoints/step-N.ckpt)',
    )
    .option('--out <file>', 'PNG file to write', 'samples.png')
    .option('--count <n>', 'number of images', integer(1, 4096), 16)
    .option('--batch-size <n>', 'images drawn at once (bounds memory; --count may be larger)', integer(1, 4096), 64)
    .option('--sampler <name>', `reverse process: ${SAMPLER_NAMES.join(', ')}`, oneOf(SAMPLER_NAMES), 'ddim')
    .option('--steps <S>', 'DDIM steps (the DDPM sampler always runs all T steps)', integer(1, 100000), 50)
    .option('--eta <x>', 'DDIM eta (0: deterministic)', decimal(0, 1), 0)
    .option('--seed <n>', 'seed of the initial noise', integer(0, 2 ** 32 - 1), 0)
    .option('--no-ema', 'sample from the raw parameters instead of their EMA');
  return addBackendOption(command).action(async (flags: SampleFlags) => {
    const log = createLogger('sample');
    const weights = loadWeights(flags.weights);
    const { config, schedule: scheduleConfig } = weights.meta;
    if (flags.sampler === 'ddim' && flags.steps > scheduleConfig.timesteps) {
      throw new FlagError(
        `--steps ${flags.steps} exceeds the model's T = ${scheduleConfig.timesteps}; pass --steps ${scheduleConfig.timesteps} or fewer.`,
      );
    }
    await selectBackend(flags.backend, (line) => log.info(line));
    const model = new UNet(config);
    const started = performance.now();
    const images = await drawSamplesInBatches(
      model,
      makeSchedule(scheduleConfig),
      flags.ema ? weights.ema : weights.params,
      { sampler: flags.sampler, count: flags.count, steps: flags.steps, eta: flags.eta, seed: flags.seed },
      flags.batchSize,
      (done, count) => log.info(`sampled ${done}/${count}`),
    );
    writeImageGrid(flags.out, images, flags.count, config.imageSize, config.imageSize, config.inChannels);
    process.stdout.write(
      `wrote ${flags.count} samples to ${flags.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
}
