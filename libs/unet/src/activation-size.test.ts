import test from 'ava';
import { largestActivationElements } from './activation-size.ts';
import { resolvePreset } from './presets.ts';

test('the largest activation per sample: the full-resolution concatenation of the up path, or attention scores', (t) => {
  // mnist-tiny: ch 8, chMult [1, 2]; the up path's first level concatenates 16 + 8 channels at 28x28 = 18,816;
  // attention at 14x14 makes 196² = 38,416 scores.
  t.is(largestActivationElements(resolvePreset('mnist-tiny')), 196 * 196);
  // cifar-ddpm: ch 128 at 32x32, the up path concatenates 256 + 128 channels: 393,216 (attention is at 16x16: 65,536).
  t.is(largestActivationElements(resolvePreset('cifar-ddpm')), 32 * 32 * 384);
});
