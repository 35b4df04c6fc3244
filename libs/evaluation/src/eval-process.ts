import { readFileSync, rmSync } from 'node:fs';
// The evaluation child process (forked by EvalRunner, niced): sets up the evaluator once, then for each set of EMA
// weights draws --eval-count images in batches and reports the Fréchet distance. Exits when its parent disconnects.
import { selectBackend, type BackendRequest } from '@ddpm/backend';
import { makeSchedule, type ScheduleConfig } from '@ddpm/diffusion-core';
import { FlagError } from '@ddpm/runtime';
import { UNet, type UNetConfig } from '@ddpm/unet';
import { drawSamplesInBatches } from './batched-sampling.ts';
import { createEvaluator, type Evaluator } from './evaluator.ts';

/** What the child needs to know, sent once. */
export interface EvalProcessSetup {
  readonly config: UNetConfig;
  readonly schedule: ScheduleConfig;
  readonly data: string;
  readonly features?: string;
  readonly count: number;
  readonly batchSize: number;
  readonly sampleSteps: number;
  readonly seed: number;
  readonly backend: BackendRequest;
}

export type ToEvalProcess =
  | { readonly kind: 'setup'; readonly setup: EvalProcessSetup }
  /** `weights`: a file of the EMA as raw little-endian float32, which the child reads and deletes. */
  | { readonly kind: 'evaluate'; readonly step: number; readonly weights: string };

export type FromEvalProcess =
  | { readonly kind: 'ready'; readonly floor: number; readonly features: string }
  | {
      readonly kind: 'result';
      readonly step: number;
      readonly report: Record<string, number | null>;
      readonly seconds: number;
    }
  | { readonly kind: 'failed'; readonly step?: number; readonly message: string; readonly flag: boolean };

let evaluator: Evaluator | undefined;
let model: UNet | undefined;
let setup: EvalProcessSetup | undefined;
let chain: Promise<void> = Promise.resolve();

/**
 * A sampling loop runs synchronously for a long time, so 'disconnect' may wait for it: between batches the child
 * checks that its parent is still there, and exits if not (a parent killed by SIGKILL leaves no orphan for long).
 */
function exitWithoutParent(): void {
  if (!process.connected) process.exit(0);
}

function reply(message: FromEvalProcess): void {
  process.send?.(message);
}

async function handle(message: ToEvalProcess): Promise<void> {
  if (message.kind === 'setup') {
    setup = message.setup;
    await selectBackend(setup.backend);
    const { imageSize, inChannels } = setup.config;
    evaluator = await createEvaluator({
      data: setup.data,
      features: setup.features,
      count: setup.count,
      seed: setup.seed,
      height: imageSize,
      width: imageSize,
      channels: inChannels,
    });
    model = new UNet(setup.config);
    reply({ kind: 'ready', floor: evaluator.reference.floor, features: evaluator.extractor.name });
    return;
  }
  if (evaluator === undefined || model === undefined || setup === undefined) throw new Error('evaluate before setup');
  const started = performance.now();
  const { imageSize, inChannels } = setup.config;
  const images = await drawSamplesInBatches(
    model,
    makeSchedule(setup.schedule),
    readWeights(message.weights),
    { sampler: 'ddim', count: setup.count, steps: setup.sampleSteps, eta: 0, seed: setup.seed },
    setup.batchSize,
    exitWithoutParent,
  );
  const report = await evaluator.evaluate({
    images,
    count: setup.count,
    height: imageSize,
    width: imageSize,
    channels: inChannels,
  });
  reply({ kind: 'result', step: message.step, report: { ...report }, seconds: (performance.now() - started) / 1000 });
}

/** The EMA the parent wrote for this evaluation; the file is deleted once read. */
function readWeights(path: string): Float32Array {
  const bytes = readFileSync(path);
  rmSync(path, { force: true });
  return new Float32Array(new Uint8Array(bytes).buffer);
}

process.on('message', (message: ToEvalProcess) => {
  chain = chain.then(() =>
    handle(message).catch((error: unknown) =>
      reply({
        kind: 'failed',
        step: message.kind === 'evaluate' ? message.step : undefined,
        message: (error as Error).message,
        flag: error instanceof FlagError,
      }),
    ),
  );
});
process.on('disconnect', () => process.exit(0));
