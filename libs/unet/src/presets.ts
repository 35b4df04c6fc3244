import type { UNetConfig } from './config.ts';

/**
 * Named U-Net configurations.
 *
 * - 'mnist-bench': a small 28×28×1 model for throughput benchmarks and quick MNIST runs. Levels run at 28, 14 and 7
 *   pixels with attention at 7. Dropout is 0: the preset exists to measure training speed and to learn MNIST in
 *   a short run, where the model is far from over-fitting, so the regulariser would only slow convergence.
 * - 'mnist-tiny': for tests and smoke runs (e.g. distributed training on the cpu backend): seconds per step on the
 *   cpu backend. 28×28×1, ch 8, levels at 28 and 14 with attention at 14, groups 4, dropout 0; 44,969 parameters.
 * - 'cifar-ddpm': the paper's CIFAR-10 model (Ho et al. 2020, Appendix B): 35,746,307 parameters.
 */
export const PRESETS = {
  'mnist-bench': {
    imageSize: 28,
    inChannels: 1,
    outChannels: 1,
    ch: 32,
    chMult: [1, 2, 2],
    numResBlocks: 1,
    attnResolutions: [7],
    dropout: 0,
    groups: 8,
  },
  'mnist-tiny': {
    imageSize: 28,
    inChannels: 1,
    outChannels: 1,
    ch: 8,
    chMult: [1, 2],
    numResBlocks: 1,
    attnResolutions: [14],
    dropout: 0,
    groups: 4,
  },
  'cifar-ddpm': {
    imageSize: 32,
    inChannels: 3,
    outChannels: 3,
    ch: 128,
    chMult: [1, 2, 2, 2],
    numResBlocks: 2,
    attnResolutions: [16],
    dropout: 0.1,
    groups: 32,
  },
} as const satisfies Record<string, UNetConfig>;

/** The name of a built-in configuration. */
export type PresetName = keyof typeof PRESETS;

/** Every preset name, in a stable order. */
export const PRESET_NAMES: readonly PresetName[] = Object.keys(PRESETS) as PresetName[];

/**
 * The configuration registered under `name`.
 *
 * Throws a RangeError listing the valid names when `name` is unknown. Returns a fresh copy, so callers may
 * spread and modify it without affecting the preset.
 */
export function resolvePreset(name: string): UNetConfig {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new RangeError(`Unknown U-Net preset '${name}'; valid presets are: ${PRESET_NAMES.join(', ')}.`);
  }
  const preset: UNetConfig = PRESETS[name as PresetName];
  return { ...preset, chMult: [...preset.chMult], attnResolutions: [...preset.attnResolutions] };
}
