import { incompatible, loadFailed } from '../model-errors';
import {
  brief,
  isObject,
  normaliseLayer,
  type ConfigSource,
  type Json,
  type JsonObject,
} from './keras-layer-config';

/**
 * The Keras model config normaliser shared by the `.h5`, `.keras` and tfjs-layers loaders: a
 * `Sequential` or `Functional` config as Keras 3 or Keras 2 / tf.keras wrote it becomes the
 * Keras-2-style config tfjs-layers deserialises (`tf.models.modelFromJSON`). Besides each layer's
 * values (keras-layer-config.ts) it rewrites Keras 3's graph format: `inbound_nodes` entries
 * `{"args": [<__keras_tensor__ with keras_history>], "kwargs": {}}` become `[[layer, node, tensor, {}]]`
 * and a single `input_layers` / `output_layers` triple becomes a list of triples.
 */

export type { ConfigSource, JsonObject } from './keras-layer-config';

/** `[layer, node, tensor]` of every Keras 3 `__keras_tensor__` in `value`, in order. */
function kerasTensors(value: Json, out: Json[][] = []): Json[][] {
  if (Array.isArray(value)) value.forEach((v) => kerasTensors(v, out));
  else if (isObject(value)) {
    const config = value['config'];
    if (
      value['class_name'] === '__keras_tensor__' &&
      isObject(config) &&
      Array.isArray(config['keras_history'])
    ) {
      out.push(config['keras_history'].slice(0, 3));
    }
  }
  return out;
}

/** Layers whose output carries their input's mask unchanged (RNNs only when they return sequences). */
const MASK_PASSING = new Set([
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'Dense',
  'Activation',
  'ReLU',
  'Softmax',
  'LayerNormalization',
  'BatchNormalization',
  'TimeDistributed',
]);
const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional']);

function returnsSequences(entry: JsonObject): boolean {
  const config = isObject(entry['config']) ? entry['config'] : {};
  const inner =
    isObject(config['layer']) && isObject(config['layer']['config']) ? config['layer']['config'] : config;
  return inner['return_sequences'] === true;
}

/** The Embedding whose mask reaches the tensor `history` (through mask-passing layers), if any. */
function maskingEmbedding(
  history: Json[] | undefined,
  layers: Map<string, JsonObject>,
): JsonObject | undefined {
  let entry = history ? layers.get(String(history[0])) : undefined;
  for (let hops = 0; entry && hops < 100; hops++) {
    const cls = String(entry['class_name']);
    if (cls === 'Embedding') return entry;
    if (!MASK_PASSING.has(cls) && !(RECURRENT.has(cls) && returnsSequences(entry))) return undefined;
    const node = Array.isArray(entry['inbound_nodes']) ? entry['inbound_nodes'][0] : undefined;
    const first = isObject(node) ? kerasTensors(node['args'] ?? [])[0] : undefined;
    entry = first ? layers.get(String(first[0])) : undefined;
  }
  return undefined;
}

/**
 * Keras 3 writes the mask of an `Embedding(mask_zero=True)` that a Functional model passes on as a
 * `NotEqual(ids, 0)` op layer fed to the consumers' `mask` keyword. tfjs propagates the embedding's
 * own mask, which is the same tensor, so such a `mask` keyword is dropped (and the op layer with it)
 * when it is exactly the mask reaching the consumer's input; any other tensor keyword is refused.
 */
function isEmbeddingMask(
  maskSource: Json[] | undefined,
  input: Json[] | undefined,
  layers: Map<string, JsonObject>,
): boolean {
  const op = maskSource ? layers.get(String(maskSource[0])) : undefined;
  const emb = maskingEmbedding(input, layers);
  if (!op || !emb || op['class_name'] !== 'NotEqual') return false;
  const embConfig = isObject(emb['config']) ? emb['config'] : {};
  if (embConfig['mask_zero'] !== true) return false;
  const opNode = Array.isArray(op['inbound_nodes']) ? op['inbound_nodes'][0] : undefined;
  const embNode = Array.isArray(emb['inbound_nodes']) ? emb['inbound_nodes'][0] : undefined;
  if (!isObject(opNode) || !isObject(embNode) || !Array.isArray(opNode['args'])) return false;
  const [x, zero] = opNode['args'];
  const opInput = kerasTensors(x ?? null)[0];
  const embInput = kerasTensors(embNode['args'] ?? [])[0];
  return zero === 0 && !!opInput && !!embInput && JSON.stringify(opInput) === JSON.stringify(embInput);
}

function normaliseNode(node: Json, layer: string, layers: Map<string, JsonObject>, src: ConfigSource): Json {
  if (Array.isArray(node)) return node; // Keras 2: [[layer, node, tensor, kwargs], ...]
  if (!isObject(node))
    throw incompatible(src.file, src.field, `layer '${layer}' has a malformed inbound node`);
  const inputs = kerasTensors(node['args'] ?? []);
  const kwargs = isObject(node['kwargs']) ? node['kwargs'] : {};
  for (const [key, value] of Object.entries(kwargs)) {
    const tensors = kerasTensors(value);
    if (tensors.length === 0) continue;
    if (key === 'mask' && tensors.length === 1 && isEmbeddingMask(tensors[0], inputs[0], layers)) continue;
    throw incompatible(
      src.file,
      src.field,
      `layer '${layer}' is called with a tensor for '${key}', which docbatch cannot run`,
    );
  }
  // A nested model built from its own Input has an inbound node of its own (index 0) in tfjs and
  // Keras 2; Keras 3 does not count it.
  return inputs.map(([name, index, tensor]) => {
    const cls = layers.get(String(name))?.['class_name'];
    const nested = cls === 'Sequential' || cls === 'Functional' || cls === 'Model';
    return [name ?? null, nested && typeof index === 'number' ? index + 1 : (index ?? 0), tensor ?? 0, {}];
  });
}

/** `["ids", 0, 0]` or `[["ids", 0, 0], ...]` -> `[["ids", 0, 0], ...]`. */
function triples(value: Json | undefined): Json {
  if (!Array.isArray(value)) return [];
  return typeof value[0] === 'string' ? [value] : value;
}

function functional(config: JsonObject, src: ConfigSource): JsonObject {
  const entries = (Array.isArray(config['layers']) ? config['layers'] : []).map((entry) => {
    if (!isObject(entry)) throw loadFailed(src.file, 'malformed layer entry', src.field);
    return entry;
  });
  const byName = new Map(entries.map((e) => [String(e['name'] ?? ''), e]));
  const layers = entries
    .filter((e) => e['class_name'] !== 'NotEqual')
    .map((entry) => {
      const name = String(entry['name'] ?? '?');
      const nodes = Array.isArray(entry['inbound_nodes']) ? entry['inbound_nodes'] : [];
      const out = normaliseLayer(entry, src, (m) => normaliseKerasModel(m, src));
      out['inbound_nodes'] = nodes.map((n) => normaliseNode(n, name, byName, src));
      return out;
    });
  // A NotEqual op layer is dropped only when nothing but dropped masks used it.
  const consumed = new Set<string>();
  for (const l of layers) {
    for (const node of l['inbound_nodes'] as Json[]) {
      if (Array.isArray(node)) node.forEach((t) => Array.isArray(t) && consumed.add(String(t[0])));
    }
  }
  const unsupported = entries.find((e) => e['class_name'] === 'NotEqual' && consumed.has(String(e['name'])));
  if (unsupported) normaliseLayer(unsupported, src, () => unsupported); // throws: NotEqual is not a layer tfjs runs
  return {
    name: config['name'] ?? 'model',
    layers,
    input_layers: triples(config['input_layers']),
    output_layers: triples(config['output_layers']),
  };
}

function sequential(config: Json, src: ConfigSource): JsonObject {
  // Keras < 2.2.3 wrote the layer list itself.
  const obj = isObject(config) ? config : { layers: config };
  const layers = Array.isArray(obj['layers']) ? obj['layers'] : [];
  const out = layers.map((entry) => {
    if (!isObject(entry)) throw loadFailed(src.file, 'malformed layer entry', src.field);
    return normaliseLayer(entry, src, (m) => normaliseKerasModel(m, src));
  });
  // A model built with model.build(shape) and no Input: the shape is the model's, not a layer's.
  const first = out[0]?.['config'];
  const shape = obj['build_input_shape'];
  if (
    isObject(first) &&
    out[0]?.['class_name'] !== 'InputLayer' &&
    first['batch_input_shape'] === undefined
  ) {
    if (Array.isArray(shape)) first['batch_input_shape'] = shape;
  }
  return { name: obj['name'] ?? 'sequential', layers: out };
}

/**
 * Normalises a Keras model config (`{"class_name": "Sequential" | "Functional" | "Model", "config":
 * {...}}`) for tfjs-layers. Errors name `src.file` and `src.field`.
 */
export function normaliseKerasModel(model: JsonObject, src: ConfigSource): JsonObject {
  const cls = model['class_name'];
  if (cls === 'Sequential')
    return { class_name: 'Sequential', config: sequential(model['config'] ?? null, src) };
  if ((cls === 'Functional' || cls === 'Model') && isObject(model['config'])) {
    return { class_name: 'Model', config: functional(model['config'], src) };
  }
  throw incompatible(
    src.file,
    src.field,
    `the model is a ${JSON.stringify(brief(cls))}, not a Sequential or Functional Keras model`,
  );
}

/** Parses a model config held as JSON text (the `.h5` `model_config` attribute, `config.json`). */
export function parseModelConfig(text: unknown, src: ConfigSource): JsonObject {
  if (typeof text !== 'string') throw loadFailed(src.file, 'missing (not a Keras model file?)', src.field);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw loadFailed(src.file, 'is not valid JSON', src.field);
  }
  if (!isObject(parsed)) throw loadFailed(src.file, 'is not a JSON object', src.field);
  return parsed;
}

/** The major version in a `keras_version` string (`"3.15.1"` -> 3). */
export function kerasMajor(version: unknown): number | undefined {
  const m = typeof version === 'string' ? /^(\d+)\./.exec(version) : null;
  return m ? Number(m[1]) : undefined;
}
