import { type UNetConfig } from './config.ts';
import { type UNetOps, walkUNet } from './topology.ts';

/**
 * How a parameter is initialised (DDPM's nn.default_init and tf.contrib.layers.group_norm defaults).
 * 'fanAvgUniform' is variance scaling with scale 1, mode fan_avg, uniform distribution:
 * U(−l, l) with l = sqrt(3 / ((fanIn + fanOut) / 2)).
 */
export type ParameterInit =
  | { readonly kind: 'fanAvgUniform'; readonly fanIn: number; readonly fanOut: number }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' };

/**
 * One parameter of the functional U-Net. Layouts: conv kernels [kh, kw, in, out] (1x1 projections included),
 * dense matrices [in, out], biases and GroupNorm gamma/beta [channels].
 */
export interface ParameterSpec {
  /** DDPM-style variable path, e.g. 'down_0/block_0/conv1/W'. Unique within a network. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParameterInit;
}

/** The number of scalars in a parameter of the given shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface FeatureMap {
  readonly channels: number;
  readonly resolution: number;
}

/** The spec-recording interpreter of the topology: each block appends the parameters it owns, in use order. */
class SpecRecorder implements UNetOps<FeatureMap> {
  readonly specs: ParameterSpec[] = [];

  constructor(private readonly config: UNetConfig) {}

  private get tembChannels(): number {
    return this.config.ch * 4;
  }

  private weight(name: string, shape: number[], fanIn: number, fanOut: number, zeroInit: boolean): void {
    this.specs.push({ name, shape, init: zeroInit ? { kind: 'zeros' } : { kind: 'fanAvgUniform', fanIn, fanOut } });
  }

  private dense(scope: string, inC: number, outC: number): void {
    this.weight(`${scope}/W`, [inC, outC], inC, outC, false);
    this.specs.push({ name: `${scope}/b`, shape: [outC], init: { kind: 'zeros' } });
  }

  private conv(scope: string, kernel: number, inC: number, outC: number, zeroInit = false): void {
    const receptive = kernel * kernel;
    this.weight(`${scope}/W`, [kernel, kernel, inC, outC], receptive * inC, receptive * outC, zeroInit);
    this.specs.push({ name: `${scope}/b`, shape: [outC], init: { kind: 'zeros' } });
  }

  private norm(scope: string, channels: number): void {
    if (channels % this.config.groups !== 0) {
      throw new RangeError(
        `UNet: GroupNorm '${scope}' sees ${channels} channels, not divisible by groups=${this.config.groups}; change groups or ch.`,
      );
    }
    this.specs.push({ name: `${scope}/gamma`, shape: [channels], init: { kind: 'ones' } });
    this.specs.push({ name: `${scope}/beta`, shape: [channels], init: { kind: 'zeros' } });
  }

  timeEmbedding(): void {
    this.dense('temb/dense0', this.config.ch, this.tembChannels);
    this.dense('temb/dense1', this.tembChannels, this.tembChannels);
  }

  convIn(x: FeatureMap, channels: number): FeatureMap {
    this.conv('conv_in', 3, x.channels, channels);
    return { channels, resolution: x.resolution };
  }

  resBlock(scope: string, x: FeatureMap, channels: number): FeatureMap {
    this.norm(`${scope}/norm1`, x.channels);
    this.conv(`${scope}/conv1`, 3, x.channels, channels);
    this.dense(`${scope}/temb_proj`, this.tembChannels, channels);
    this.norm(`${scope}/norm2`, channels);
    this.conv(`${scope}/conv2`, 3, channels, channels, true);
    if (x.channels !== channels) this.conv(`${scope}/nin_shortcut`, 1, x.channels, channels);
    return { channels, resolution: x.resolution };
  }

  attnBlock(scope: string, x: FeatureMap): FeatureMap {
    this.norm(`${scope}/norm`, x.channels);
    for (const projection of ['q', 'k', 'v']) this.conv(`${scope}/${projection}`, 1, x.channels, x.channels);
    this.conv(`${scope}/proj_out`, 1, x.channels, x.channels, true);
    return x;
  }

  downsample(scope: string, x: FeatureMap): FeatureMap {
    this.conv(`${scope}/conv`, 3, x.channels, x.channels);
    return { channels: x.channels, resolution: Math.ceil(x.resolution / 2) };
  }

  upsample(scope: string, x: FeatureMap): FeatureMap {
    this.conv(`${scope}/conv`, 3, x.channels, x.channels);
    return { channels: x.channels, resolution: x.resolution * 2 };
  }

  skipResBlock(scope: string, h: FeatureMap, skip: FeatureMap, channels: number): FeatureMap {
    if (h.resolution !== skip.resolution) {
      throw new RangeError(
        `UNet: a skip of resolution ${skip.resolution} meets the up path at ${h.resolution}; make imageSize a multiple of 2^(levels-1).`,
      );
    }
    return this.resBlock(scope, { channels: h.channels + skip.channels, resolution: h.resolution }, channels);
  }

  output(x: FeatureMap, channels: number): FeatureMap {
    this.norm('norm_out', x.channels);
    this.conv('conv_out', 3, x.channels, channels, true);
    return { channels, resolution: x.resolution };
  }

  resolution(h: FeatureMap): number {
    return h.resolution;
  }
}

/**
 * The ordered parameter list of the U-Net for `config`, in the order the forward pass uses them.
 *
 * Precondition: `config` passed validateConfig. Does no tensor work, so it is cheap even for large models.
 * Zero-initialised weights are those DDPM gives init_scale=0: each residual block's conv2, each attention
 * block's proj_out, and conv_out (exact zeros here, where DDPM uses a 1e-10 scale).
 */
export function buildParameterSpecs(config: UNetConfig): ParameterSpec[] {
  const recorder = new SpecRecorder(config);
  const out = walkUNet(config, recorder, { channels: config.inChannels, resolution: config.imageSize });
  if (out.resolution !== config.imageSize || out.channels !== config.outChannels) {
    throw new Error(
      `UNet: the topology produces ${out.resolution}x${out.resolution}x${out.channels}; this is a bug in topology.ts.`,
    );
  }
  return recorder.specs;
}
