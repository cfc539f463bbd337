import { loadFailed } from '../model-errors';
import type { Hdf5Group } from './hdf5-file';
import { isObject, type JsonObject } from './keras-layer-config';
import type { WeightArray, WeightSource } from './layers-network';

/**
 * The weights of a Keras 3 `model.weights.h5` (inside `.keras`), per layer in Keras's (and tfjs's)
 * weight order. Keras stores them by object path, not layer name: `layers/<snake_case class name
 * with a counter>/vars/<i>`, a recurrent layer's under `cell/vars`, a Bidirectional's under
 * `forward_layer` and `backward_layer`, a nested model's under its own `layers/`. Groups are matched
 * to layers by the `name` attribute Keras puts on each `vars` group, else by recomputing the path.
 */

interface Located {
  group: Hdf5Group;
  entry: JsonObject;
}

const configOf = (entry: JsonObject): JsonObject => (isObject(entry['config']) ? entry['config'] : {});
const nameOf = (entry: JsonObject): string => String(configOf(entry)['name'] ?? entry['name'] ?? '');

/** Keras's `to_snake_case` of a class name (`GlobalAveragePooling1D` -> `global_average_pooling1d`). */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function layerEntries(model: JsonObject): JsonObject[] {
  const config = model['config'];
  const layers = isObject(config) ? config['layers'] : config;
  return Array.isArray(layers) ? layers.filter(isObject) : [];
}

/** Layer name -> its group in `container` (a `layers` group) for the entries of one model. */
function locate(container: Hdf5Group | undefined, model: JsonObject): Map<string, Located> {
  const found = new Map<string, Located>();
  if (!container) return found;
  const entries = layerEntries(model);
  const byName = new Map(entries.map((e) => [nameOf(e), e]));
  for (const key of container.keys()) {
    const group = container.group(key);
    const name = group?.group('vars')?.attr('name');
    const entry = typeof name === 'string' ? byName.get(name) : undefined;
    if (group && entry && !found.has(name as string)) found.set(name as string, { group, entry });
  }
  // Keras versions without the attribute: the path Keras derives from the class names, in order.
  const used = new Map<string, number>();
  const sequential = model['class_name'] === 'Sequential';
  for (const entry of entries) {
    if (sequential && entry['class_name'] === 'InputLayer') continue;
    const base = snakeCase(String(entry['class_name'] ?? ''));
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    const key = n === undefined ? base : `${base}_${n + 1}`;
    const group = container.group(key);
    if (group && !found.has(nameOf(entry))) found.set(nameOf(entry), { group, entry });
  }
  return found;
}

function vars(group: Hdf5Group | undefined, file: string): WeightArray[] {
  const v = group?.group('vars');
  if (!v) return [];
  const keys = v.keys().filter((k) => /^\d+$/.test(k));
  keys.sort((a, b) => Number(a) - Number(b));
  return keys.map((k) => {
    const data = v.dataset(k);
    if (!data) throw loadFailed(file, `${v.path}/${k} is not a dataset`, 'model.weights.h5');
    return { name: `${v.path}/${k}`, ...data };
  });
}

function collect(group: Hdf5Group | undefined, entry: JsonObject, file: string): WeightArray[] {
  if (!group) return [];
  const cls = entry['class_name'];
  const config = configOf(entry);
  if (cls === 'Sequential' || cls === 'Functional' || cls === 'Model') {
    const inner = locate(group.group('layers'), entry);
    return layerEntries(entry).flatMap((e) => {
      const at = inner.get(nameOf(e));
      return at ? collect(at.group, at.entry, file) : [];
    });
  }
  const inner = isObject(config['layer']) ? config['layer'] : undefined;
  if (cls === 'Bidirectional' && inner) {
    const backward = isObject(config['backward_layer']) ? config['backward_layer'] : inner;
    return [
      ...collect(group.group('forward_layer'), inner, file),
      ...collect(group.group('backward_layer'), backward, file),
    ];
  }
  if (inner) return [...vars(group, file), ...collect(group.group('layer'), inner, file)];
  return [...vars(group, file), ...vars(group.group('cell'), file)];
}

/** A {@link WeightSource} over a Keras 3 weights file and the model config stored beside it. */
export function kerasZipWeights(h5: Hdf5Group, model: JsonObject, file: string): WeightSource {
  const layers = locate(h5.group('layers'), model);
  return (name) => {
    const at = layers.get(name);
    return at ? collect(at.group, at.entry, file) : undefined;
  };
}
