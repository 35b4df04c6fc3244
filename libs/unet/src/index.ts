export { type UNetConfig, validateConfig, levelResolutions } from './config.ts';
export { PRESETS, PRESET_NAMES, type PresetName, resolvePreset } from './presets.ts';
export { type ParameterSpec, type ParameterInit } from './parameter-specs.ts';
export { flattenWeights, unflattenWeights, countParameters } from './parameters.ts';
export { groupNorm, groupNormParts, GROUP_NORM_EPSILON, type GroupNormActivation } from './group-norm.ts';
export { UNet, type ApplyOptions } from './unet.ts';
export { ensureGradientsRegistered } from './gradients.ts';
export { largestActivationElements } from './activation-size.ts';
