import type { UNetConfig } from './config.ts';
import { walkUNet, type UNetOps } from './topology.ts';

interface FeatureMap {
  readonly channels: number;
  readonly resolution: number;
}

/**
 * Walks the topology on feature-map sizes and keeps the largest single tensor a forward pass makes, per sample: a
 * feature map (the up path's concatenation [h, skip] included), or an attention block's score matrix (positions²).
 */
class LargestTensor implements UNetOps<FeatureMap> {
  elements = 0;

  constructor(private readonly tembChannels: number) {}

  private seen(channels: number, resolution: number): FeatureMap {
    this.elements = Math.max(this.elements, channels * resolution * resolution);
    return { channels, resolution };
  }

  timeEmbedding(): void {
    this.elements = Math.max(this.elements, this.tembChannels);
  }
  convIn(x: FeatureMap, channels: number): FeatureMap {
    return this.seen(channels, x.resolution);
  }
  resBlock(_scope: string, x: FeatureMap, channels: number): FeatureMap {
    return this.seen(channels, x.resolution);
  }
  attnBlock(_scope: string, x: FeatureMap): FeatureMap {
    const positions = x.resolution * x.resolution;
    this.elements = Math.max(this.elements, positions * positions);
    this.seen(3 * x.channels, x.resolution); // q, k and v as one 1x1 convolution
    return x;
  }
  downsample(_scope: string, x: FeatureMap): FeatureMap {
    return this.seen(x.channels, Math.ceil(x.resolution / 2));
  }
  upsample(_scope: string, x: FeatureMap): FeatureMap {
    return this.seen(x.channels, 2 * x.resolution);
  }
  skipResBlock(_scope: string, h: FeatureMap, skip: FeatureMap, channels: number): FeatureMap {
    this.seen(h.channels + skip.channels, h.resolution);
    return this.seen(channels, h.resolution);
  }
  output(x: FeatureMap, channels: number): FeatureMap {
    return this.seen(channels, x.resolution);
  }
  resolution(h: FeatureMap): number {
    return h.resolution;
  }
}

/**
 * The element count of the largest tensor a forward pass of `config` makes for one sample (multiply by the batch
 * and 4 bytes): what a device's per-buffer limit must hold. An estimate of the forward pass: backprop's tensors have
 * the same shapes. Precondition: `config` passed validateConfig.
 */
export function largestActivationElements(config: UNetConfig): number {
  const walker = new LargestTensor(4 * config.ch);
  walkUNet(config, walker, { channels: config.inChannels, resolution: config.imageSize });
  return walker.elements;
}
