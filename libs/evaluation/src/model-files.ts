import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';

/** A TensorFlow.js model read from a model.json: a layers model (Keras-style) or a graph model (converted). */
export type TfjsModel =
  { readonly kind: 'layers'; readonly model: LayersModel } | { readonly kind: 'graph'; readonly model: GraphModel };

/** The shard file name {@link saveLayersModel} writes next to model.json. */
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes a layers model as TensorFlow.js's standard `model.json` + one weights shard (`weights.bin`) in `dir`,
 * the format `tf.loadLayersModel` and {@link loadTfjsModel} read. Files are written to temporaries and renamed.
 * Promises: `dir` is created if missing. Does not: write optimizer state.
 */
export async function saveLayersModel(model: LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    io.withSaveHandler(async (artifacts) => {
      const data =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : io.concatenateArrayBuffers(artifacts.weightData);
      const json = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      writeAtomically(join(dir, WEIGHTS_FILE), new Uint8Array(data));
      writeAtomically(join(dir, 'model.json'), `${JSON.stringify(json)}\n`);
      return { modelArtifactsInfo: io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

function writeAtomically(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  [key: string]: unknown;
}

/**
 * Reads a TensorFlow.js `model.json` and its weight shards from the local disk: a layers model
 * (`format: "layers-model"`, or a Keras topology) or a graph model (`format: "graph-model"`, what
 * `tensorflowjs_converter` writes for a SavedModel).
 * Promises: errors name the file and what to supply (missing file, not JSON, missing shard, unknown format).
 */
export async function loadTfjsModel(path: string): Promise<TfjsModel> {
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as ModelJson;
  } catch (error) {
    throw new Error(
      `cannot read the TensorFlow.js model ${path} (${(error as Error).message}); pass the model.json of a ` +
        'TensorFlow.js layers or graph model (tensorflowjs_converter writes one).',
      { cause: error },
    );
  }
  if (json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
    throw new Error(
      `${path} is not a TensorFlow.js model.json (no modelTopology or weightsManifest); pass the model.json that ` +
        'tensorflowjs_converter or model.save() wrote.',
    );
  }
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const shards = json.weightsManifest.flatMap((group) =>
    group.paths.map((shard) => {
      const shardPath = join(dirname(path), shard);
      try {
        return readFileSync(shardPath);
      } catch (error) {
        throw new Error(
          `${path} names the weights shard ${shard}, but ${shardPath} cannot be read (${(error as Error).message}); ` +
            'keep the .bin files next to model.json.',
          { cause: error },
        );
      }
    }),
  );
  const weightData = io.concatenateArrayBuffers(
    shards.map((buffer) => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength)),
  );
  const handler = io.fromMemory({
    modelTopology: json.modelTopology as object,
    weightSpecs,
    weightData,
    format: json.format as string | undefined,
    signature: json.signature as object | undefined,
    userDefinedMetadata: json.userDefinedMetadata as Record<string, object> | undefined,
    modelInitializer: json.modelInitializer as object | undefined,
  });
  const graph = json.format === 'graph-model';
  return graph
    ? { kind: 'graph', model: await loadGraphModel(handler) }
    : { kind: 'layers', model: await loadLayersModel(handler) };
}
