import test from 'ava';
import { ensureLossGradientsRegistered } from './loss-gradients.ts';

// This file must not import @tensorflow/tfjs statically: it checks the state before and after that import.
test.serial('without @tensorflow/tfjs the check names the missing gradients and how to register them', (t) => {
  const error = t.throws(() => ensureLossGradientsRegistered());
  t.regex(error?.message ?? '', /needs the gradients of Add, Multiply, SquaredDifference, Mean, Reshape, Cast/);
  t.regex(error?.message ?? '', /Import '@ddpm\/backend'.*import '@tensorflow\/tfjs'/);
});

test.serial('after importing @tensorflow/tfjs the check passes', async (t) => {
  await import('@tensorflow/tfjs');
  t.notThrows(() => ensureLossGradientsRegistered());
});
