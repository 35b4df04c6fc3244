import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import {
  addBackendOption,
  addRunOptions,
  createLogger,
  createProgress,
  runConfigFromFlags,
  type RunFlags,
} from '@ddpm/runtime';
import { train } from '@ddpm/training';
import { resolvePreset } from '@ddpm/unet';

/** `ddpm train`: single-process training with metrics.jsonl, sample grids and final weights in the run directory. */
export function trainCommand(): Command {
  const command = new Command('train').description('train a DDPM in this process (one worker, no coordinator)');
  addRunOptions(command, { out: 'runs/train', batchHelp: 'images per step' });
  addBackendOption(command);
  return command.action(async (flags: RunFlags & { backend: BackendRequest }) => {
    const log = createLogger('train');
    const backend = await selectBackend(flags.backend, (line) => log.info(line));
    const preset = resolvePreset(flags.preset);
    const dataset = await loadDataset(flags.data, {
      size: preset.imageSize,
      channels: preset.inChannels === 1 ? 1 : 3,
    });
    log.info({ dataset: dataset.name, count: dataset.count, backend: backend.name }, 'training starts');
    const config = runConfigFromFlags(flags);
    const progress = createProgress(flags.steps);
    const summary = await train(config, dataset, {
      onStep: (r) => progress.update({ step: r.step, loss: r.loss, imgsPerS: r.imgs_per_s }),
      onSampleGrid: (path, step) => progress.note(`step ${step}: sample grid ${path}`),
    });
    progress.stop();
    process.stdout.write(
      `done: ${summary.steps} steps in ${summary.wallSeconds.toFixed(1)} s, ${summary.imgsPerS.toFixed(1)} img/s, ` +
        `final loss ${summary.finalLoss.toFixed(4)}, ${summary.skippedSteps} skipped; weights ${summary.weightsPath}\n`,
    );
  });
}
