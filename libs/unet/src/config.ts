/**
 * The hyper-parameters of a DDPM U-Net (Ho et al. 2020, diffusion_tf/models/unet.py).
 *
 * The network works on square NHWC images. Level i of the down path runs at resolution imageSize / 2^i with
 * ch · chMult[i] channels; there are chMult.length levels and chMult.length − 1 stride-2 downsamplings.
 */
export interface UNetConfig {
  /** Height and width of the (square) input image, in pixels. */
  readonly imageSize: number;
  /** Channels of x_t (1 for MNIST, 3 for CIFAR-10). */
  readonly inChannels: number;
  /** Channels of the predicted noise ε; equals inChannels for an ε-prediction DDPM. */
  readonly outChannels: number;
  /** Base channel count; also the width of the sinusoidal timestep embedding (the MLP widens it to 4·ch). */
  readonly ch: number;
  /** Channel multiplier of each resolution level, from the input resolution down. */
  readonly chMult: readonly number[];
  /** Residual blocks per level on the down path (the up path has one more per level). */
  readonly numResBlocks: number;
  /** Resolutions (in pixels) at which a self-attention block follows each residual block. */
  readonly attnResolutions: readonly number[];
  /** Dropout rate inside the residual blocks, in [0, 1). Applied only when a dropout Rng is given. */
  readonly dropout: number;
  /** Number of GroupNorm groups; every normalised channel count must be a multiple of it. */
  readonly groups: number;
}

/** The resolution of each level of the down path: imageSize, imageSize/2, ... (chMult.length entries). */
export function levelResolutions(config: UNetConfig): number[] {
  return config.chMult.map((_, level) => config.imageSize / 2 ** level);
}

/**
 * Checks a configuration and throws a RangeError naming the offending field and how to fix it.
 *
 * Promises: a config that passes builds a network whose output has the input's shape, whose every GroupNorm
 * sees a channel count divisible by `groups`, and whose attention resolutions all occur in the network.
 * Does not: check that the network fits in memory or runs fast.
 */
export function validateConfig(config: UNetConfig): void {
  const positiveInt = (value: number, field: string): void => {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`UNetConfig.${field} must be a positive integer, got ${value}; set it to e.g. 1 or more.`);
    }
  };
  positiveInt(config.imageSize, 'imageSize');
  positiveInt(config.inChannels, 'inChannels');
  positiveInt(config.outChannels, 'outChannels');
  positiveInt(config.ch, 'ch');
  positiveInt(config.numResBlocks, 'numResBlocks');
  positiveInt(config.groups, 'groups');
  if (config.ch < 4)
    throw new RangeError(`UNetConfig.ch must be at least 4 (it is the timestep embedding width), got ${config.ch}.`);
  if (config.chMult.length === 0) {
    throw new RangeError(
      'UNetConfig.chMult is empty; give one channel multiplier per resolution level, e.g. [1, 2, 2].',
    );
  }
  config.chMult.forEach((mult, i) => positiveInt(mult, `chMult[${i}]`));
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new RangeError(`UNetConfig.dropout must be in [0, 1), got ${config.dropout}; use 0 to disable dropout.`);
  }

  const downsamplings = config.chMult.length - 1;
  const factor = 2 ** downsamplings;
  if (config.imageSize % factor !== 0) {
    const lower = Math.max(factor, Math.floor(config.imageSize / factor) * factor);
    throw new RangeError(
      `UNetConfig.imageSize ${config.imageSize} is not reachable by the downsampling: ${config.chMult.length} levels halve it ` +
        `${downsamplings} times, so it must be a multiple of ${factor} for the 2x upsampling to restore every skip resolution. ` +
        `Use imageSize ${lower} or ${lower + factor}, or fewer levels in chMult.`,
    );
  }

  const channelCounts = new Set<number>([config.ch, ...config.chMult.map((mult) => config.ch * mult)]);
  for (const channels of channelCounts) {
    if (channels % config.groups !== 0) {
      throw new RangeError(
        `UNetConfig: ${channels} channels are not divisible by groups=${config.groups} (channel counts are ch=${config.ch} ` +
          `times chMult=[${config.chMult.join(', ')}] and ch itself); choose groups dividing ${config.ch}, or a ch that is a multiple of ${config.groups}.`,
      );
    }
  }

  const resolutions = levelResolutions(config);
  for (const resolution of config.attnResolutions) {
    if (!resolutions.includes(resolution)) {
      throw new RangeError(
        `UNetConfig.attnResolutions contains ${resolution}, which no level of this network runs at; ` +
          `the levels run at [${resolutions.join(', ')}] pixels: pick attention resolutions among those.`,
      );
    }
  }
}
