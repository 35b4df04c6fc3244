import test from 'ava';
import { DataOrder, DEFAULT_OPTIMIZER, CHECKPOINT_FORMAT, type CheckpointMeta, type RunConfig } from '@ddpm/training';
import { resolvePreset } from '@ddpm/unet';
import { checkResumeCompatible } from './resume-check.ts';

const run: RunConfig = {
  preset: 'mnist-tiny',
  steps: 10,
  batch: 4,
  seed: 3,
  out: 'a',
  optimizer: DEFAULT_OPTIMIZER,
  schedule: { kind: 'linear', timesteps: 100 },
  sampleEvery: 0,
  sampleCount: 1,
  sampleSteps: 1,
};
const meta: CheckpointMeta = {
  kind: 'checkpoint',
  format: CHECKPOINT_FORMAT,
  protocolVersion: 1,
  runId: 'r',
  step: 5,
  dataOrder: DataOrder.start(10, 3).state(),
  rng: {},
  run,
  model: resolvePreset('mnist-tiny'),
  datasetFingerprint: 'fp',
  adamCount: 5,
  skippedSteps: 0,
  lastLoss: 0.3,
  writtenAt: '',
};

test('a resume may change --steps, --out and the grids, but nothing that changes the computation', (t) => {
  t.notThrows(() =>
    checkResumeCompatible('c.ckpt', meta, { ...run, steps: 99, out: 'b', sampleEvery: 5 }, 'fp', 10, 10),
  );
  const error = t.throws(() =>
    checkResumeCompatible(
      'c.ckpt',
      meta,
      { ...run, batch: 8, optimizer: { ...DEFAULT_OPTIMIZER, lr: 1e-3 } },
      'other',
      10,
      10,
    ),
  );
  t.regex(
    error.message,
    /Cannot resume from c\.ckpt: --batch is 8 but the checkpoint has 4; --lr is 0\.001 but the checkpoint has 0\.0002; the dataset .* is "other" but the checkpoint has "fp"\. Resume with the flags/,
  );
  t.throws(() => checkResumeCompatible('c.ckpt', meta, run, 'fp', 11, 10), {
    message: /parameter count is 11 but the checkpoint has 10/,
  });
});
