import { type UNetConfig } from './config.ts';

/**
 * The building blocks the U-Net topology is written in, abstract over what flows between them.
 *
 * Two interpreters implement it: one where H describes a feature map ({channels, resolution}) and each block
 * records the parameters it needs (parameter-specs.ts), and one where H is a tensor and each block computes
 * (forward.ts). Because both walk {@link walkUNet}, the parameter order always matches the forward pass.
 * Scopes are DDPM's variable scopes ('down_0/block_1', 'mid/attn_1', ...).
 */
export interface UNetOps<H> {
  /** The timestep MLP (scope 'temb': dense0, SiLU, dense1); called once, before anything else. */
  timeEmbedding(): void;
  /** 3x3 convolution 'conv_in' from the image channels to `channels`. */
  convIn(x: H, channels: number): H;
  /** Residual block with `channels` output channels, conditioned on the timestep embedding. */
  resBlock(scope: string, x: H, channels: number): H;
  /** Self-attention over all positions, residual. */
  attnBlock(scope: string, x: H): H;
  /** Stride-2 3x3 convolution keeping the channel count. */
  downsample(scope: string, x: H): H;
  /** Nearest-neighbour 2x upsampling followed by a 3x3 convolution keeping the channel count. */
  upsample(scope: string, x: H): H;
  /**
   * Residual block (as resBlock) on the channel concatenation [h, skip] of the up path; the skip must have h's
   * batch and resolution. Its parameters are those of resBlock on the concatenation (norm1, conv1 and
   * nin_shortcut see h's channels first, then the skip's).
   */
  skipResBlock(scope: string, h: H, skip: H, channels: number): H;
  /** GroupNorm 'norm_out', SiLU, and the 3x3 convolution 'conv_out' to `channels`. */
  output(x: H, channels: number): H;
  /** The spatial size (height = width) of a feature map. */
  resolution(h: H): number;
}

/**
 * Runs the DDPM U-Net topology (diffusion_tf/models/unet.py `model`) on `x` with the given interpreter.
 *
 * Precondition: `config` passed validateConfig. Promises: calls the ops in exactly the same order for the same
 * config, which fixes the parameter order. Does not: know anything about tensors or parameters itself.
 */
export function walkUNet<H>(config: UNetConfig, ops: UNetOps<H>, x: H): H {
  const levels = config.chMult.length;
  const attends = (h: H): boolean => config.attnResolutions.includes(ops.resolution(h));

  ops.timeEmbedding();
  const skips: H[] = [ops.convIn(x, config.ch)];
  for (let level = 0; level < levels; level++) {
    for (let block = 0; block < config.numResBlocks; block++) {
      let h = ops.resBlock(`down_${level}/block_${block}`, skips[skips.length - 1], config.ch * config.chMult[level]);
      if (attends(h)) h = ops.attnBlock(`down_${level}/attn_${block}`, h);
      skips.push(h);
    }
    if (level !== levels - 1) skips.push(ops.downsample(`down_${level}/downsample`, skips[skips.length - 1]));
  }

  let h = skips[skips.length - 1];
  h = ops.resBlock('mid/block_1', h, config.ch * config.chMult[levels - 1]);
  h = ops.attnBlock('mid/attn_1', h);
  h = ops.resBlock('mid/block_2', h, config.ch * config.chMult[levels - 1]);

  for (let level = levels - 1; level >= 0; level--) {
    for (let block = 0; block < config.numResBlocks + 1; block++) {
      const skip = skips.pop();
      if (skip === undefined)
        throw new Error('walkUNet: the up path ran out of skip connections; this is a bug in topology.ts.');
      h = ops.skipResBlock(`up_${level}/block_${block}`, h, skip, config.ch * config.chMult[level]);
      if (attends(h)) h = ops.attnBlock(`up_${level}/attn_${block}`, h);
    }
    if (level !== 0) h = ops.upsample(`up_${level}/upsample`, h);
  }
  if (skips.length !== 0)
    throw new Error(`walkUNet: ${skips.length} skip connections were left unused; this is a bug in topology.ts.`);

  return ops.output(h, config.outChannels);
}
