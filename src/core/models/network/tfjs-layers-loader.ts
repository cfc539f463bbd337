import * as tf from '@tensorflow/tfjs';
import { incompatible, loadFailed } from '../model-errors';
import { isObject, type JsonObject } from './keras-layer-config';
import { kerasMajor, normaliseKerasModel } from './keras-model-config';
import {
  buildLayersNetwork,
  LayersNetwork,
  type BuildOptions,
  type WeightArray,
  type WeightSource,
} from './layers-network';
import { peekModelJsonKind, readModelJson, type ModelJson } from './model-json-files';
import type { Network, NetworkLoader, NetworkLoadOptions } from './types';

/**
 * TensorFlow.js layers models (`model.json` + shards). Converter output (`tensorflowjs_converter
 * --input_format keras`, from a Keras 2 or Keras 3 file) goes through the Keras config normaliser,
 * which fixes what tfjs cannot read in Keras 3 topologies (tfjs#8494 and friends), and weights are
 * matched to layers by the layer-name part of their manifest names, then set in the layer's own
 * order with shape checks. A model saved by tfjs itself loads as tfjs wrote it.
 */
export class TfjsLayersLoader implements NetworkLoader {
  readonly format = 'tfjs-layers' as const;

  accepts(dir: string, file: string): boolean {
    return peekModelJsonKind(dir, file) === 'layers';
  }

  async load(dir: string, file: string, options: NetworkLoadOptions = {}): Promise<Network> {
    const { json, weightSpecs, weightData } = await readModelJson(dir, file);
    const topology = json.modelTopology as JsonObject;
    const modelConfig = isObject(topology['model_config']) ? topology['model_config'] : topology;
    const common = { ...options, format: this.format, file, weightsField: 'weightsManifest' };
    if (json.generatedBy?.startsWith('TensorFlow.js tfjs-layers')) {
      return loadTfjsNative(json, modelConfig, weightSpecs, weightData, {
        ...common,
        field: 'modelTopology',
      });
    }
    const version = topology['keras_version'] ?? /v(\d[\w.]*)/.exec(json.generatedBy ?? '')?.[1];
    const src = { file, field: 'modelTopology', kerasMajor: kerasMajor(version) };
    const normalised = normaliseKerasModel(modelConfig, src);
    const arrays = decode(weightData, weightSpecs, file);
    return buildLayersNetwork(normalised, byLayer(arrays, String(configName(modelConfig))), {
      ...common,
      field: 'modelTopology',
      writtenBy: typeof version === 'string' ? `keras ${version}` : json.generatedBy,
    });
  }
}

function configName(model: JsonObject): unknown {
  return isObject(model['config']) ? model['config']['name'] : undefined;
}

function decode(data: ArrayBuffer, specs: tf.io.WeightsManifestEntry[], file: string): WeightArray[] {
  let tensors: tf.NamedTensorMap;
  try {
    tensors = tf.io.decodeWeights(data, specs);
  } catch (err) {
    throw loadFailed(
      file,
      `cannot decode the weights (${String((err as Error).message ?? err).split('\n')[0]})`,
      'weightsManifest',
    );
  }
  try {
    return specs.map((s) => {
      const t = tensors[s.name]!;
      return { name: s.name, shape: t.shape, values: Float32Array.from(t.dataSync() as ArrayLike<number>) };
    });
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Weights by layer: names are `<layer>/<...>` (Keras 2), or `<model>/<layer>/<...>` (a Keras 3
 * Sequential through the converter); a `:0` suffix is ignored. A layer found under neither gets the
 * weights with a `<layer>` segment anywhere in their path. A Bidirectional's forward weights come
 * before its backward ones.
 */
function byLayer(arrays: WeightArray[], modelName: string): WeightSource {
  const prefix = `${modelName}/`;
  const strip = arrays.length > 0 && arrays.every((a) => a.name.startsWith(prefix));
  const path = (a: WeightArray) =>
    (strip ? a.name.slice(prefix.length) : a.name).replace(/:\d+$/, '').split('/');
  const groups = new Map<string, WeightArray[]>();
  for (const a of arrays) {
    const layer = path(a)[0]!;
    groups.set(layer, [...(groups.get(layer) ?? []), a]);
  }
  const rank = (a: WeightArray) => (/\/backward_/.test(a.name) ? 1 : 0);
  return (layer) => {
    const found = groups.get(layer) ?? arrays.filter((a) => path(a).slice(0, -1).includes(layer));
    return found.length > 0 ? found.slice().sort((a, b) => rank(a) - rank(b)) : undefined;
  };
}

/** A layers model tfjs saved itself: loaded by tfjs as it is (custom layers registered by docbatch included). */
async function loadTfjsNative(
  json: ModelJson,
  modelConfig: JsonObject,
  weightSpecs: tf.io.WeightsManifestEntry[],
  weightData: ArrayBuffer,
  opts: BuildOptions,
): Promise<Network> {
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs,
        weightData,
        format: json.format,
      }),
    );
  } catch (err) {
    throw incompatible(
      opts.file,
      'modelTopology',
      `tfjs cannot load the model (${String((err as Error).message).split('\n')[0]})`,
    );
  }
  try {
    return LayersNetwork.fromModel(model, modelConfig, opts);
  } catch (err) {
    model.dispose();
    throw err;
  }
}
