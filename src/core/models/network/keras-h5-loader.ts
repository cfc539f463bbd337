import { loadFailed } from '../model-errors';
import { readArtefact } from './artefact-file';
import { openHdf5, type Hdf5Group } from './hdf5-file';
import { kerasMajor, normaliseKerasModel, parseModelConfig } from './keras-model-config';
import { buildLayersNetwork, type WeightArray } from './layers-network';
import type { Network, NetworkLoader, NetworkLoadOptions } from './types';

/**
 * Keras `.h5` files as `model.save("model.h5")` writes them, from Keras 2 / tf.keras / tf_keras and
 * from Keras 3 (legacy HDF5 format): the model config is the root attribute `model_config`, and
 * each layer's weights are the datasets its group under `model_weights/` lists in `weight_names`
 * (Keras 2 names end in `:0`, Keras 3 names do not; only the order matters here).
 */
export class KerasH5Loader implements NetworkLoader {
  readonly format = 'keras-h5' as const;

  accepts(_dir: string, file: string): boolean {
    return /\.(h5|hdf5)$/i.test(file);
  }

  async load(dir: string, file: string, options: NetworkLoadOptions = {}): Promise<Network> {
    const h5 = openHdf5(await readArtefact(dir, file), file);
    const version = h5.attr('keras_version');
    const src = { file, field: 'model_config', kerasMajor: kerasMajor(version) };
    const raw = h5.attr('model_config');
    if (raw === undefined) {
      throw loadFailed(
        file,
        'no model_config attribute: a weights-only file? Save the whole model with model.save()',
      );
    }
    const topology = normaliseKerasModel(parseModelConfig(raw, src), src);
    const weights = h5.group('model_weights') ?? h5;
    return buildLayersNetwork(topology, (layer) => layerWeights(weights, layer, file), {
      ...options,
      format: this.format,
      file,
      field: 'model_config',
      weightsField: 'model_weights',
      writtenBy: typeof version === 'string' ? `keras ${version}` : undefined,
    });
  }
}

/** The weights of `layer`: the datasets its `weight_names` attribute lists, in that order. */
function layerWeights(root: Hdf5Group, layer: string, file: string): WeightArray[] | undefined {
  const group = root.group(layer);
  if (!group) return undefined;
  const names = group.attr('weight_names');
  if (!Array.isArray(names)) return undefined;
  return names.map((n) => {
    const name = String(n);
    const data = group.dataset(name);
    if (!data)
      throw loadFailed(
        file,
        `layer '${layer}' lists weight '${name}', which is not in the file`,
        'model_weights',
      );
    return { name, ...data };
  });
}
