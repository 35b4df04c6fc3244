import * as tf from '@tensorflow/tfjs-core';
import { timestepEmbedding } from '@ddpm/diffusion-core';
import { type UNetConfig } from './config.ts';
import { type GroupNormActivation, groupNorm, groupNormParts } from './group-norm.ts';
import { conv2d, dense, dropout, silu } from './layers.ts';
import { upsampleConv2d } from './upsample-conv.ts';
import { concatConv2d } from './concat-conv.ts';
import { type ParameterSpec } from './parameter-specs.ts';
import { type UNetOps, walkUNet } from './topology.ts';

/**
 * Hands out the weights in spec order, checking each request's name against the spec at that position, so a
 * forward pass that drifted from the parameter list fails loudly instead of using the wrong tensor. Each weight goes
 * through `onWeight` (ApplyOptions.onWeight) right before its first and only use.
 */
class WeightCursor {
  private index = 0;

  constructor(
    private readonly specs: readonly ParameterSpec[],
    private readonly weights: readonly tf.Tensor[],
    private readonly onWeight: ((index: number, weight: tf.Tensor) => tf.Tensor) | undefined,
  ) {}

  next(name: string): tf.Tensor {
    const spec = this.specs[this.index];
    if (spec === undefined || spec.name !== name) {
      throw new Error(
        `UNet forward asked for '${name}' but parameter #${this.index} is '${spec?.name ?? '<none>'}'; this is a bug in forward.ts or parameter-specs.ts.`,
      );
    }
    const weight = this.weights[this.index];
    const used = this.onWeight === undefined ? weight : this.onWeight(this.index, weight);
    this.index += 1;
    return used;
  }

  finish(): void {
    if (this.index !== this.specs.length) {
      throw new Error(
        `UNet forward used ${this.index} of ${this.specs.length} parameters; this is a bug in forward.ts or parameter-specs.ts.`,
      );
    }
  }
}

/** The tensor interpreter of the topology: each block computes with the weights the cursor hands out. */
class TensorOps implements UNetOps<tf.Tensor4D> {
  /** SiLU(temb): the only form in which the residual blocks use the timestep embedding. */
  private activatedTemb: tf.Tensor2D | undefined;

  constructor(
    private readonly config: UNetConfig,
    private readonly cursor: WeightCursor,
    private readonly t: tf.Tensor1D,
    private readonly dropoutKeys: ArrayLike<number> | undefined,
  ) {}

  /** Dropout calls so far in this forward pass: the site number that keeps each call's masks distinct. */
  private dropoutSite = 0;

  private conv(scope: string, x: tf.Tensor4D, stride: 1 | 2 = 1): tf.Tensor4D {
    return conv2d(x, this.cursor.next(`${scope}/W`), this.cursor.next(`${scope}/b`), stride);
  }

  private dense(scope: string, x: tf.Tensor2D): tf.Tensor2D {
    return dense(x, this.cursor.next(`${scope}/W`), this.cursor.next(`${scope}/b`));
  }

  private norm(scope: string, x: tf.Tensor4D, activation: GroupNormActivation): tf.Tensor4D {
    const gamma = this.cursor.next(`${scope}/gamma`) as tf.Tensor1D;
    const beta = this.cursor.next(`${scope}/beta`) as tf.Tensor1D;
    return groupNorm(x, gamma, beta, this.config.groups, activation);
  }

  private get embedding(): tf.Tensor2D {
    if (this.activatedTemb === undefined)
      throw new Error('UNet forward used the timestep embedding before computing it; this is a bug in topology.ts.');
    return this.activatedTemb;
  }

  timeEmbedding(): void {
    const sinusoid = timestepEmbedding(this.t, this.config.ch);
    const temb = this.dense('temb/dense1', silu(this.dense('temb/dense0', sinusoid)));
    this.activatedTemb = silu(temb);
  }

  convIn(x: tf.Tensor4D): tf.Tensor4D {
    return this.conv('conv_in', x);
  }

  resBlock(scope: string, x: tf.Tensor4D, channels: number): tf.Tensor4D {
    return this.residual(scope, [x], channels);
  }

  /**
   * The up path's block on [h, skip] without materialising the concatenation: GroupNorm runs on both parts
   * (groupNormParts); conv1 and nin_shortcut run on the concatenation through concatConv2d, whose custom gradient
   * computes one filter gradient for both parts and per-part input gradients (no slicing of a concatenated dx).
   */
  skipResBlock(scope: string, h: tf.Tensor4D, skip: tf.Tensor4D, channels: number): tf.Tensor4D {
    const [hb, hh, hw] = h.shape;
    const [sb, sh, sw] = skip.shape;
    if (hb !== sb || hh !== sh || hw !== sw) {
      throw new Error(
        `UNet up path: the feature map [${h.shape}] cannot be concatenated with its skip [${skip.shape}]; ` +
          'batch, height and width must match. Make imageSize a multiple of 2^(chMult.length - 1) (validateConfig checks this).',
      );
    }
    return this.residual(scope, [h, skip], channels);
  }

  /** DDPM's residual block on the channel concatenation of `parts`. */
  private residual(scope: string, parts: readonly tf.Tensor4D[], channels: number): tf.Tensor4D {
    const [batch] = parts[0].shape;
    const inChannels = parts.reduce((total, part) => total + part.shape[3], 0);
    const normalised = this.splitNorm(`${scope}/norm1`, parts, 'silu');
    let h = this.splitConv(`${scope}/conv1`, normalised);
    const tembProj = this.dense(`${scope}/temb_proj`, this.embedding);
    h = tf.add(h, tf.reshape(tembProj, [batch, 1, 1, channels]));
    h = this.norm(`${scope}/norm2`, h, 'silu');
    if (this.dropoutKeys !== undefined) h = dropout(h, this.config.dropout, this.dropoutKeys, this.dropoutSite++);
    h = this.conv(`${scope}/conv2`, h);
    const shortcut = inChannels === channels ? parts[0] : this.splitConv(`${scope}/nin_shortcut`, parts);
    return tf.add(shortcut, h);
  }

  /** GroupNorm over the channel concatenation of `parts`, returned part by part. */
  private splitNorm(scope: string, parts: readonly tf.Tensor4D[], activation: GroupNormActivation): tf.Tensor4D[] {
    const gamma = this.cursor.next(`${scope}/gamma`) as tf.Tensor1D;
    const beta = this.cursor.next(`${scope}/beta`) as tf.Tensor1D;
    return groupNormParts(parts, gamma, beta, this.config.groups, activation);
  }

  /** conv(concat(parts), W) + b; several parts go through concatConv2d (one filter gradient for all parts). */
  private splitConv(scope: string, parts: readonly tf.Tensor4D[]): tf.Tensor4D {
    const kernel = this.cursor.next(`${scope}/W`) as tf.Tensor4D;
    const bias = this.cursor.next(`${scope}/b`);
    return parts.length === 1 ? conv2d(parts[0], kernel, bias) : concatConv2d(parts, kernel, bias);
  }

  /**
   * Self-attention. The q, k and v projections (1x1 convs of the same h) run as ONE conv with the three kernels
   * side by side ([1, 1, C, 3C]), whose output is split into q, k, v: one forward conv, one input and one filter
   * gradient instead of three each.
   */
  attnBlock(scope: string, x: tf.Tensor4D): tf.Tensor4D {
    const [batch, height, width, channels] = x.shape;
    const positions = height * width;
    const h = this.norm(`${scope}/norm`, x, 'linear');
    const projections = ['q', 'k', 'v'].map((name) => ({
      kernel: this.cursor.next(`${scope}/${name}/W`),
      bias: this.cursor.next(`${scope}/${name}/b`),
    }));
    const kernel = tf.concat(
      projections.map((p) => p.kernel),
      3,
    );
    const bias = tf.concat(
      projections.map((p) => p.bias),
      0,
    );
    const qkv = tf.reshape(conv2d(h, kernel, bias), [batch, positions, 3 * channels]);
    const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
    const logits = tf.mul(tf.matMul(q, k, false, true), channels ** -0.5);
    const attended = tf.reshape<tf.Rank.R4>(tf.matMul(tf.softmax(logits), v), [batch, height, width, channels]);
    return tf.add(x, this.conv(`${scope}/proj_out`, attended));
  }

  downsample(scope: string, x: tf.Tensor4D): tf.Tensor4D {
    return this.conv(`${scope}/conv`, x, 2);
  }

  /** Nearest 2x upsampling and the 3x3 conv, as four 2x2 phase convolutions of x (upsampleConv2d: 16 taps, not 36). */
  upsample(scope: string, x: tf.Tensor4D): tf.Tensor4D {
    return upsampleConv2d(x, this.cursor.next(`${scope}/conv/W`) as tf.Tensor4D, this.cursor.next(`${scope}/conv/b`));
  }

  output(x: tf.Tensor4D): tf.Tensor4D {
    return this.conv('conv_out', this.norm('norm_out', x, 'silu'));
  }

  resolution(h: tf.Tensor4D): number {
    return h.shape[1];
  }
}

/**
 * The U-Net forward pass εθ(x_t, t) with explicit weights.
 *
 * Preconditions: `config` is valid; `weights` match `specs` (checked by the caller); xt is [B, S, S, inChannels].
 * Promises: returns [B, S, S, outChannels]; applies dropout only when `dropoutKeys` (one per sample) are given.
 * Not tidied here.
 */
export function forwardUNet(
  config: UNetConfig,
  specs: readonly ParameterSpec[],
  weights: readonly tf.Tensor[],
  xt: tf.Tensor4D,
  t: tf.Tensor1D,
  dropoutKeys: ArrayLike<number> | undefined,
  onWeight?: (index: number, weight: tf.Tensor) => tf.Tensor,
): tf.Tensor4D {
  const cursor = new WeightCursor(specs, weights, onWeight);
  const out = walkUNet(config, new TensorOps(config, cursor, t, dropoutKeys), xt);
  cursor.finish();
  return out;
}
