import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { loadDataset } from '@ddpm/data';
import { saveLayersModel, trainMnistClassifier } from '@ddpm/evaluation';
import { addBackendOption, createLogger, decimal, integer } from '@ddpm/runtime';

interface TrainClassifierFlags {
  out: string;
  data: string;
  seed: number;
  epochs: number;
  heldOut: number;
  batch: number;
  lr: number;
  backend: BackendRequest;
}

/**
 * `ddpm train-classifier`: trains the small MNIST classifier whose features `ddpm eval` compares, with a fixed
 * seed, on the bundled MNIST test set split into a training part and held-out digits, and writes OUT/model.json,
 * OUT/weights.bin and OUT/training.json (seed, split, epochs, held-out accuracy, backend, time). Prints the same
 * figures as one JSON line.
 */
export function trainClassifierCommand(): Command {
  const command = new Command('train-classifier')
    .description('train the MNIST classifier that ddpm eval uses for features, confidence and label entropy')
    .option('--out <dir>', 'folder for model.json, weights.bin and training.json', 'mnist-classifier')
    .option('--data <spec>', "labelled 28x28 MNIST data: 'mnist' (the bundled test set) or an MNIST folder", 'mnist')
    .option('--seed <n>', 'seed of the split, the initial weights and the order', integer(0, 2 ** 32 - 1), 14)
    .option('--epochs <n>', 'passes over the training part', integer(1, 1000), 8)
    .option('--held-out <n>', 'images held out of training to measure the accuracy', integer(1), 2000)
    .option('--batch <n>', 'batch size', integer(1, 65536), 64)
    .option('--lr <x>', 'Adam learning rate', decimal(1e-6, 1), 0.002);
  return addBackendOption(command).action(async (flags: TrainClassifierFlags) => {
    const log = createLogger('train-classifier');
    const backend = await selectBackend(flags.backend, (line) => log.info(line));
    const dataset = await loadDataset(flags.data);
    const started = performance.now();
    const result = await trainMnistClassifier(dataset, {
      seed: flags.seed,
      epochs: flags.epochs,
      heldOut: flags.heldOut,
      batchSize: flags.batch,
      learningRate: flags.lr,
      onEpoch: (epoch, loss, heldOutAccuracy) =>
        log.info(
          `epoch ${epoch}/${flags.epochs}: loss ${loss.toFixed(4)}, held-out accuracy ${heldOutAccuracy.toFixed(4)}`,
        ),
    });
    await saveLayersModel(result.model, flags.out);
    const summary = {
      data: dataset.name,
      seed: flags.seed,
      epochs: flags.epochs,
      batch: flags.batch,
      lr: flags.lr,
      train_images: result.trainCount,
      held_out_images: result.heldOutCount,
      held_out_accuracy: result.heldOutAccuracy,
      parameters: result.model.countParams(),
      backend: backend.name,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      date: new Date().toISOString().slice(0, 10),
    };
    writeFileSync(join(flags.out, 'training.json'), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}
