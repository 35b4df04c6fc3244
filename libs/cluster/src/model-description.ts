import type { RunConfig } from '@ddpm/training';
import type { UNetConfig } from '@ddpm/unet';

/**
 * The JSON carried in Welcome.model.config_json: the U-Net config and the diffusion schedule, everything a worker
 * needs to build the same model and loss (the parameter order follows from the U-Net config; see docs/protocol.md).
 */
export interface ModelDescription {
  readonly unet: UNetConfig;
  readonly schedule: RunConfig['schedule'];
}

/** Reads Welcome.model.config_json; throws an Error saying what to do when it is not a ModelDescription. */
export function parseModelDescription(json: string): ModelDescription {
  let parsed: Partial<ModelDescription> | null;
  try {
    parsed = JSON.parse(json) as Partial<ModelDescription> | null;
  } catch {
    parsed = null;
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    typeof parsed.unet !== 'object' ||
    typeof parsed.schedule !== 'object'
  ) {
    throw new Error(
      'The coordinator sent an unreadable model config; make sure coordinator and workers run the same ddpm version.',
    );
  }
  return parsed as ModelDescription;
}
