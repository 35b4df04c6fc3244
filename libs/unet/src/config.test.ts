import test from 'ava';
import { type UNetConfig, validateConfig } from './config.ts';
import { PRESET_NAMES, resolvePreset } from './presets.ts';
import { UNet } from './unet.ts';
import { TINY_CONFIG } from './testing.ts';

test("cifar-ddpm has exactly the paper's 35,746,307 parameters", (t) => {
  t.is(new UNet(resolvePreset('cifar-ddpm')).parameterCount(), 35_746_307);
});

test('mnist-bench has 1,112,801 parameters (the figure stated in docs/architecture.md)', (t) => {
  t.is(new UNet(resolvePreset('mnist-bench')).parameterCount(), 1_112_801);
});

test('mnist-tiny has 44,969 parameters (the figure stated in docs/architecture.md)', (t) => {
  t.is(new UNet(resolvePreset('mnist-tiny')).parameterCount(), 44_969);
});

test('parameter names are unique and follow the forward order, from temb to conv_out', (t) => {
  const specs = new UNet(resolvePreset('cifar-ddpm')).specs;
  t.is(new Set(specs.map((s) => s.name)).size, specs.length);
  t.deepEqual(
    specs.slice(0, 2).map((s) => s.name),
    ['temb/dense0/W', 'temb/dense0/b'],
  );
  t.deepEqual(
    specs.slice(-2).map((s) => s.name),
    ['conv_out/W', 'conv_out/b'],
  );
  // The paper's CIFAR model: attention at 16x16 only, i.e. in level 1 (2 down + 3 up blocks) and the middle.
  t.is(specs.filter((s) => /attn_\d+\/q\/W$/.test(s.name)).length, 6);
  // up_0/block_0 sees 256 channels from up_1 concatenated with a 128-channel skip from down_0.
  t.deepEqual(specs.find((s) => s.name === 'up_0/block_0/nin_shortcut/W')?.shape, [1, 1, 384, 128]);
});

test('resolvePreset returns independent copies and lists the valid names for unknown ones', (t) => {
  t.deepEqual([...PRESET_NAMES], ['mnist-bench', 'mnist-tiny', 'cifar-ddpm']);
  const a = resolvePreset('mnist-bench');
  (a.chMult as number[]).push(4);
  t.deepEqual(resolvePreset('mnist-bench').chMult, [1, 2, 2]);
  t.throws(() => resolvePreset('cifar'), {
    message: "Unknown U-Net preset 'cifar'; valid presets are: mnist-bench, mnist-tiny, cifar-ddpm.",
  });
  t.throws(() => resolvePreset('toString'), { message: /valid presets are/ });
});

test('every preset passes validation', (t) => {
  for (const name of PRESET_NAMES) t.notThrows(() => validateConfig(resolvePreset(name)), name);
});

const rejects = test.macro({
  exec(t, change: Partial<UNetConfig>, message: RegExp) {
    const config = { ...TINY_CONFIG, ...change };
    t.throws(() => validateConfig(config), { instanceOf: RangeError, message });
    t.throws(() => new UNet(config), { instanceOf: RangeError, message });
  },
  title: (_, change: Partial<UNetConfig>) =>
    `invalid config is rejected: ${Object.entries(change)
      .map(([key, value]) => `${key}=${Array.isArray(value) ? `[${value.join(',')}]` : String(value)}`)
      .join(' ')}`,
});

test(rejects, { groups: 3 }, /8 channels are not divisible by groups=3.*choose groups dividing 8/);
test(rejects, { ch: 12, groups: 8 }, /12 channels are not divisible by groups=8/);
test(
  rejects,
  { imageSize: 30, chMult: [1, 2, 2] },
  /imageSize 30 is not reachable by the downsampling.*multiple of 4.*Use imageSize 28 or 32/,
);
test(rejects, { imageSize: 7 }, /imageSize 7 is not reachable.*multiple of 2/);
test(
  rejects,
  { attnResolutions: [16] },
  /contains 16, which no level of this network runs at; the levels run at \[8, 4\]/,
);
test(rejects, { dropout: 1 }, /dropout must be in \[0, 1\), got 1/);
test(rejects, { dropout: Number.NaN }, /dropout must be in \[0, 1\)/);
test(rejects, { chMult: [] }, /chMult is empty/);
test(rejects, { chMult: [1, 0] }, /chMult\[1\] must be a positive integer, got 0/);
test(rejects, { numResBlocks: 0 }, /numResBlocks must be a positive integer/);
test(rejects, { imageSize: 8.5 }, /imageSize must be a positive integer, got 8.5/);
test(rejects, { ch: 2, groups: 1 }, /ch must be at least 4/);
