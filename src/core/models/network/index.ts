import { loadFailed } from '../model-errors';
import { MODEL_FILE_FIELD } from './artefact-file';
import { KerasH5Loader } from './keras-h5-loader';
import { KerasZipLoader } from './keras-zip-loader';
import { readModelJsonHead } from './model-json-files';
import { TfjsGraphLoader } from './tfjs-graph-loader';
import { TfjsLayersLoader } from './tfjs-layers-loader';
import type { Network, NetworkLoader, NetworkLoadOptions } from './types';

/**
 * Network loaders: one per artefact format a classification model's `model_file` may name (Keras
 * `.h5`, Keras 3 `.keras`, TensorFlow.js layers and graph `model.json`). See ./types.ts.
 */

/** Every loader, in the order {@link loadNetwork} asks them. */
export const NETWORK_LOADERS: readonly NetworkLoader[] = [
  new KerasH5Loader(),
  new KerasZipLoader(),
  new TfjsLayersLoader(),
  new TfjsGraphLoader(),
];

/** The loader that reads `<dir>/<file>`, or undefined when none does. */
export function networkLoaderFor(dir: string, file: string): NetworkLoader | undefined {
  return NETWORK_LOADERS.find((l) => l.accepts(dir, file));
}

/**
 * Loads the network in `<dir>/<file>` with the loader that accepts it. A file no loader reads (an
 * unknown extension, a model.json that is neither a layers nor a graph model, a missing model.json)
 * is a ModelError `MODEL_LOAD_FAILED` naming the file and `config.json model_file`.
 */
export async function loadNetwork(
  dir: string,
  file: string,
  options: NetworkLoadOptions = {},
): Promise<Network> {
  const loader = networkLoaderFor(dir, file);
  if (loader) return loader.load(dir, file, options);
  if (/\.json$/i.test(file)) {
    await readModelJsonHead(dir, file); // the precise cause when it is missing or not JSON
    throw loadFailed(file, 'is neither a TensorFlow.js layers model nor a graph model', MODEL_FILE_FIELD);
  }
  throw loadFailed(
    file,
    'unknown model file type (expected .h5, .keras or a TensorFlow.js model.json)',
    MODEL_FILE_FIELD,
  );
}

export { KerasH5Loader, KerasZipLoader, TfjsGraphLoader, TfjsLayersLoader };
export { SUPPORTED_KERAS_LAYERS } from './keras-layer-config';
export type {
  DeclaredDtype,
  Network,
  NetworkFormat,
  NetworkLoader,
  NetworkLoadOptions,
  NetworkSpec,
  TensorSpec,
} from './types';
