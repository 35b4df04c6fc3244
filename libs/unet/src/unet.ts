import * as tf from '@tensorflow/tfjs-core';
import { type UNetConfig, validateConfig } from './config.ts';
import { forwardUNet } from './forward.ts';
import { buildParameterSpecs, type ParameterSpec, shapeSize } from './parameter-specs.ts';
import { checkWeights, countParameters, initialWeightsFlat, unflattenWeights } from './parameters.ts';

/** Options of {@link UNet.apply}. */
export interface ApplyOptions {
  /**
   * Training mode: one 32-bit key per sample. When given (and config.dropout > 0), each residual block applies
   * dropout, sample b's mask drawn from keys[b] and the block (see layers.ts dropout), so the mask does not depend on
   * the batch a sample sits in. When absent the network is deterministic (evaluation / sampling).
   */
  readonly dropoutKeys?: ArrayLike<number>;
  /**
   * Called with each weight (its index in the list and the tensor) right before the forward pass uses it, in the
   * order the pass uses them, once each; the pass computes with the returned tensor. A caller can put a tf.customGrad
   * identity there to learn when backprop has finished that weight's gradient (computeGradient's stream does).
   */
  readonly onWeight?: (index: number, weight: tf.Tensor) => tf.Tensor;
}

/**
 * The DDPM noise-prediction U-Net εθ(x_t, t) (Ho et al. 2020), as a functional model.
 *
 * The model holds no weights: `initialize` returns a fresh weight list and `apply` takes one, so gradients are
 * taken with tf.grads over that list and several weight sets (model, EMA) can coexist. The order and shapes of
 * the list are `specs`.
 * Does not: own, update or dispose weight tensors; compute a loss; sample.
 */
export class UNet {
  readonly config: UNetConfig;
  /** Every parameter, ordered as the weight lists are ordered. */
  readonly specs: readonly ParameterSpec[];

  /**
   * Validates `config` (throwing a RangeError that says how to fix it) and lays out the parameters. No tensor
   * work. Registers no gradients: before tf.grads through `apply`, the caller must have registered tfjs's
   * gradients (importing @ddpm/backend or @tensorflow/tfjs does; ensureGradientsRegistered checks it).
   */
  constructor(config: UNetConfig) {
    validateConfig(config);
    this.config = { ...config, chMult: [...config.chMult], attnResolutions: [...config.attnResolutions] };
    this.specs = buildParameterSpecs(this.config);
  }

  /** The number of scalar parameters (35,746,307 for the 'cifar-ddpm' preset, as in the paper). */
  parameterCount(): number {
    return countParameters(this.specs);
  }

  /** The number of elements of each parameter tensor, in the order of the flat parameter buffer. */
  parameterSizes(): number[] {
    return this.specs.map((spec) => shapeSize(spec.shape));
  }

  /**
   * DDPM's initial weights, drawn deterministically from `seed`: variance-scaling fan_avg uniform for conv and
   * dense kernels, zero biases, GroupNorm gamma 1 / beta 0, and exact zeros for each residual block's conv2,
   * each attention proj_out and conv_out, so the initial network outputs exactly zero.
   * The caller owns and must dispose the returned tensors.
   */
  initialize(seed: number): tf.Tensor[] {
    return unflattenWeights(this.specs, this.initialParameters(seed));
  }

  /** The seeded initial weights as one flat buffer (the wire order), drawn in JavaScript: no tensor, any backend. */
  initialParameters(seed: number): Float32Array {
    return initialWeightsFlat(this.specs, seed);
  }

  /**
   * Predicts the noise in `xt` at timesteps `t`.
   *
   * Preconditions: `weights` match `specs` (checked: count, shapes, float32); xt is float32
   * [B, imageSize, imageSize, inChannels]; t is [B] (int32 or float32 timesteps). Both are checked.
   * Promises: returns a new [B, imageSize, imageSize, outChannels] tensor owned by the caller; all intermediates
   * are disposed (tf.tidy), and the function is differentiable w.r.t. the weights and xt with tf.grads.
   * Does not: dispose its inputs.
   */
  apply(weights: readonly tf.Tensor[], xt: tf.Tensor4D, t: tf.Tensor1D, options: ApplyOptions = {}): tf.Tensor4D {
    const { imageSize, inChannels } = this.config;
    const [batch, height, width, channels] = xt.shape;
    if (xt.rank !== 4 || height !== imageSize || width !== imageSize || channels !== inChannels) {
      throw new RangeError(
        `UNet.apply: xt has shape [${xt.shape}] but this network takes [batch, ${imageSize}, ${imageSize}, ${inChannels}]; reshape the batch or build the UNet from a matching config.`,
      );
    }
    if (t.rank !== 1 || t.shape[0] !== batch) {
      throw new RangeError(`UNet.apply: t has shape [${t.shape}] but needs one timestep per image, shape [${batch}].`);
    }
    checkWeights(this.specs, weights);
    return tf.tidy(() => forwardUNet(this.config, this.specs, weights, xt, t, options.dropoutKeys, options.onWeight));
  }
}
