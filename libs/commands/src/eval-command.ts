import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { makeSchedule } from '@ddpm/diffusion-core';
import {
  concatImages,
  createEvaluator,
  cutImageGrid,
  drawSamplesInBatches,
  formatEvalLine,
  isMnistShape,
  type ImageBatch,
} from '@ddpm/evaluation';
import { loadWeights, SAMPLER_NAMES, type SamplerName } from '@ddpm/training';
import { UNet } from '@ddpm/unet';
import { addBackendOption, createLogger, decimal, FlagError, integer, oneOf } from '@ddpm/runtime';

interface EvalFlags {
  weights?: string;
  grids?: string[];
  count: number;
  batchSize: number;
  data: string;
  features?: string;
  imageSize: number;
  channels: number;
  sampler: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  ema: boolean;
  backend: BackendRequest;
  record?: string;
}

/** The PNG files named on the command line, folders expanded to their *.png files in name order. */
export function gridFiles(paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    let isFolder: boolean;
    try {
      isFolder = statSync(path).isDirectory();
    } catch {
      throw new FlagError(
        `--grids ${path}: no such file or folder; pass PNG grids or a folder of them (e.g. OUT/samples).`,
      );
    }
    if (!isFolder) return [path];
    const files = readdirSync(path)
      .filter((name) => name.toLowerCase().endsWith('.png'))
      .sort()
      .map((name) => join(path, name));
    if (files.length === 0) throw new FlagError(`--grids ${path}: the folder holds no .png files; pass PNG grids.`);
    return files;
  });
}

/** Appends one line to --record's file; a missing folder or a full disk is a FlagError naming the path. */
function record(path: string, line: string): void {
  try {
    appendFileSync(path, line);
  } catch (error) {
    throw new FlagError(`--record ${path}: cannot append (${(error as Error).message}); pass a writable eval.jsonl.`);
  }
}

/**
 * `ddpm eval`: sample quality as one JSON line: the Fréchet distance between generated and real images, the
 * real-vs-real floor at the same count, their ratio, the classifier's mean confidence and label entropy.
 * Generated images come from weights (`--weights`, drawn `--batch-size` at a time from the EMA) or from PNG grids.
 */
export function evalCommand(): Command {
  const command = new Command('eval')
    .description(
      'measure sample quality: Fréchet distance to real data, its real-vs-real floor, confidence, label entropy',
    )
    .option('--weights <file>', 'draw the images from these weights (DIR/weights.ddpm or a checkpoint)')
    .option('--grids <paths...>', 'PNG grids (or folders of them, e.g. OUT/samples) to cut into images instead')
    .option('--count <n>', 'generated images, and images in each of the two real sets', integer(2, 100000), 1000)
    .option('--batch-size <n>', 'images drawn at once (bounds memory)', integer(1, 4096), 100)
    .option('--data <spec>', "real data: 'mnist' (bundled) or a folder, as for training", 'mnist')
    .option('--features <model.json>', 'TensorFlow.js model whose features to compare (required for non-MNIST images)')
    .option('--image-size <n>', 'side of the images in --grids', integer(1, 4096), 28)
    .option('--channels <n>', 'channels of the images in --grids (1 or 3)', integer(1, 3), 1)
    .option('--sampler <name>', `reverse process: ${SAMPLER_NAMES.join(', ')}`, oneOf(SAMPLER_NAMES), 'ddim')
    .option('--steps <S>', 'DDIM steps', integer(1, 100000), 50)
    .option('--eta <x>', 'DDIM eta (0: deterministic)', decimal(0, 1), 0)
    .option('--seed <n>', 'seed of the noise and of the choice of the real sets', integer(0, 2 ** 32 - 1), 0)
    .option('--no-ema', 'sample from the raw parameters instead of their EMA')
    .option(
      '--record <eval.jsonl>',
      "also append the result at the weights' step to a run's eval.jsonl (OUT/eval.jsonl), for its run page",
    );
  return addBackendOption(command).action(async (flags: EvalFlags) => {
    if ((flags.weights === undefined) === (flags.grids === undefined)) {
      throw new FlagError('pass exactly one of --weights FILE (draw images) or --grids PNG|DIR... (cut grids).');
    }
    if (flags.record !== undefined && flags.weights === undefined) {
      throw new FlagError('--record needs --weights: the line is filed under the step of the weights.');
    }
    if (flags.record !== undefined) record(flags.record, ''); // fail before sampling, not after
    if (flags.channels === 2) throw new FlagError('--channels 2: grids are grey (1) or RGB (3).');
    const log = createLogger('eval');
    const started = performance.now();
    const weights = flags.weights === undefined ? undefined : loadWeights(flags.weights);
    const config = weights?.meta.config;
    const shape = {
      height: config?.imageSize ?? flags.imageSize,
      width: config?.imageSize ?? flags.imageSize,
      channels: config?.inChannels ?? flags.channels,
    };
    if (weights !== undefined && flags.sampler === 'ddim' && flags.steps > weights.meta.schedule.timesteps) {
      throw new FlagError(
        `--steps ${flags.steps} exceeds the model's T = ${weights.meta.schedule.timesteps}; pass fewer.`,
      );
    }
    if (flags.features === undefined && !isMnistShape(shape.height, shape.width, shape.channels)) {
      throw new FlagError(
        `the images are ${shape.height}x${shape.width}x${shape.channels}, and the bundled classifier measures 28x28 ` +
          'grey digits only; pass --features model.json, a TensorFlow.js layers or graph model for your images.',
      );
    }
    await selectBackend(flags.backend, (line) => log.info(line));
    let grids: ImageBatch | undefined;
    if (flags.grids !== undefined) {
      const files = gridFiles(flags.grids);
      grids = concatImages(
        files.map((file) => cutImageGrid(readFileSync(file), flags.imageSize, flags.channels === 3 ? 3 : 1, file)),
      );
      if (grids.count < flags.count) {
        throw new FlagError(
          `--count ${flags.count}, but the grids hold ${grids.count} images; pass --count ${grids.count} or more grids.`,
        );
      }
    }
    const evaluator = await createEvaluator({
      data: flags.data,
      features: flags.features,
      count: flags.count,
      seed: flags.seed,
      ...shape,
    });
    let batch: ImageBatch;
    if (weights !== undefined && config !== undefined) {
      const model = new UNet(config);
      const images = await drawSamplesInBatches(
        model,
        makeSchedule(weights.meta.schedule),
        flags.ema ? weights.ema : weights.params,
        { sampler: flags.sampler, count: flags.count, steps: flags.steps, eta: flags.eta, seed: flags.seed },
        flags.batchSize,
        (done, count) => log.info(`sampled ${done}/${count}`),
      );
      batch = { images, count: flags.count, ...shape };
    } else {
      const all = grids as ImageBatch;
      const size = all.height * all.width * all.channels;
      batch = { ...all, images: all.images.subarray(0, flags.count * size), count: flags.count };
    }
    const report = await evaluator.evaluate(batch);
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    if (flags.record !== undefined && weights !== undefined) {
      record(
        flags.record,
        formatEvalLine({ ...report, step: weights.meta.step, seconds, time: new Date().toISOString() }),
      );
    }
    process.stdout.write(`${JSON.stringify({ ...report, features: evaluator.extractor.name, seconds })}\n`);
  });
}
