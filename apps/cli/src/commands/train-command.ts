import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { BACKEND_NAMES, selectBackend } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { DEFAULT_OPTIMIZER, train } from '@ddpm/training';
import { PRESET_NAMES, resolvePreset } from '@ddpm/unet';
import { createLogger, createProgress, decimal, integer, oneOf } from '@ddpm/runtime';

interface TrainFlags {
  preset: string;
  data: string;
  steps: number;
  batch: number;
  out: string;
  backend: (typeof BACKEND_NAMES)[number];
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

/** `ddpm train`: single-process training with metrics.jsonl, sample grids and final weights in the run directory. */
export function trainCommand(): Command {
  return new Command('train')
    .description('train a DDPM in this process (one worker, no coordinator)')
    .option('--preset <name>', `model preset: ${PRESET_NAMES.join(', ')}`, oneOf(PRESET_NAMES), 'mnist-bench')
    .option('--data <mnist|DIR>', 'dataset: "mnist" (bundled test set), an MNIST IDX directory, or a folder of PNG images', 'mnist')
    .option('--steps <n>', 'optimizer steps', integer(1), 500)
    .option('--batch <n>', 'images per step', integer(1, 65536), 32)
    .option('--out <dir>', 'run directory (metrics.jsonl, samples/, weights.ddpm)', 'runs/train')
    .option('--backend <name>', `tfjs backend: ${BACKEND_NAMES.join(', ')}`, oneOf(BACKEND_NAMES), 'auto')
    .option('--seed <n>', 'seed for initial weights, data order and noise', integer(0, 2 ** 32 - 1), 0)
    .option('--lr <x>', 'peak Adam learning rate', decimal(0, 1), DEFAULT_OPTIMIZER.lr)
    .option('--warmup <steps>', 'linear learning-rate warm-up steps (0 disables)', integer(0), DEFAULT_OPTIMIZER.warmup)
    .option('--clip <norm>', 'maximum global gradient norm', decimal(1e-12, 1e12), DEFAULT_OPTIMIZER.clip)
    .option('--ema-decay <x>', 'EMA decay of the weights', decimal(0, 0.999999999), DEFAULT_OPTIMIZER.emaDecay)
    .option('--schedule <kind>', 'noise schedule: linear, cosine', oneOf(['linear', 'cosine'] as const), 'linear')
    .option('--timesteps <T>', 'diffusion steps T', integer(2, 100000), 1000)
    .option('--sample-every <steps>', 'write a sample grid every N steps (0: only at the end)', integer(0), 250)
    .option('--sample-count <n>', 'images per sample grid', integer(1, 1024), 16)
    .option('--sample-steps <S>', 'DDIM steps for the sample grids', integer(1, 100000), 50)
    .action(async (flags: TrainFlags) => {
      const log = createLogger('train');
      const backend = await selectBackend(flags.backend, (line) => log.info(line));
      const preset = resolvePreset(flags.preset);
      const channels = preset.inChannels === 1 ? 1 : 3;
      const dataset = await loadDataset(flags.data, { size: preset.imageSize, channels });
      log.info({ dataset: dataset.name, count: dataset.count, backend: backend.name }, 'training starts');
      const progress = createProgress(flags.steps);
      const summary = await train(
        {
          preset: flags.preset, dataset, steps: flags.steps, batch: flags.batch, seed: flags.seed, out: flags.out,
          optimizer: { ...DEFAULT_OPTIMIZER, lr: flags.lr, warmup: flags.warmup, clip: flags.clip, emaDecay: flags.emaDecay },
          schedule: { kind: flags.schedule, timesteps: flags.timesteps },
          sampleEvery: flags.sampleEvery, sampleCount: flags.sampleCount, sampleSteps: flags.sampleSteps,
        },
        {
          onStep: (r) => progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s }),
          onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
        },
      );
      progress.stop();
      const report = { ...summary, backend: backend.name, preset: flags.preset, batch: flags.batch };
      writeFileSync(join(flags.out, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(
        `done: ${summary.steps} steps in ${summary.wallSeconds.toFixed(1)} s, ${summary.imgsPerS.toFixed(1)} img/s, ` +
          `final loss ${summary.finalLoss.toFixed(4)}; weights ${summary.weightsPath}, samples in ${join(flags.out, 'samples')}\n`,
      );
    });
}
