import { incompatible } from '../model-errors';

/**
 * One Keras layer's config (Keras 3 or Keras 2 / tf.keras, as `.h5`, `.keras` and the tfjs
 * converter write it) turned into the config tfjs-layers deserialises: dtype policies become dtype
 * names, `batch_shape` becomes `batch_input_shape`, Keras 3 only keys go, initializers become zeros
 * and regularizers / constraints nothing (weights are set from the file and nothing is trained),
 * activations get their tfjs names, and classes whose tfjs version differs from Keras get the
 * replacements of keras-compat-layers.ts. Anything docbatch cannot run exactly is a ModelError
 * naming the layer.
 */

/** Where a config came from, for messages: `model.h5` and `model_config`. */
export interface ConfigSource {
  file: string;
  field: string;
  /** Major version of the Keras that wrote the config (3, 2), when known. */
  kerasMajor?: number;
}

/** A JSON value as Keras writes configs. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** Keras class -> tfjs class; a class missing here is refused. */
const CLASSES: Record<string, string> = {
  InputLayer: 'InputLayer',
  Embedding: 'Embedding',
  LSTM: 'KerasLSTM',
  GRU: 'KerasGRU',
  SimpleRNN: 'KerasSimpleRNN',
  Bidirectional: 'Bidirectional',
  TimeDistributed: 'TimeDistributed',
  Conv1D: 'Conv1D',
  GlobalAveragePooling1D: 'KerasGlobalAveragePooling1D',
  GlobalMaxPooling1D: 'GlobalMaxPooling1D',
  MaxPooling1D: 'MaxPooling1D',
  AveragePooling1D: 'AveragePooling1D',
  Dense: 'Dense',
  Dropout: 'Dropout',
  SpatialDropout1D: 'SpatialDropout1D',
  GaussianNoise: 'GaussianNoise',
  GaussianDropout: 'GaussianDropout',
  Flatten: 'Flatten',
  Reshape: 'Reshape',
  RepeatVector: 'RepeatVector',
  Permute: 'Permute',
  Activation: 'Activation',
  ReLU: 'ReLU',
  Softmax: 'Softmax',
  Masking: 'Masking',
  Concatenate: 'Concatenate',
  Add: 'Add',
  Multiply: 'Multiply',
  Average: 'Average',
  Maximum: 'Maximum',
  Minimum: 'Minimum',
  LayerNormalization: 'LayerNormalization',
  BatchNormalization: 'BatchNormalization',
};

/** Keras activation name -> tfjs name (snake case: tfjs camel-cases it when it deserialises). */
const ACTIVATIONS: Record<string, string> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  selu: 'selu',
  sigmoid: 'sigmoid',
  hard_sigmoid: 'hard_sigmoid',
  tanh: 'tanh',
  softmax: 'softmax',
  log_softmax: 'log_softmax',
  softplus: 'softplus',
  softsign: 'softsign',
  swish: 'swish',
  silu: 'swish',
  gelu: 'gelu',
  mish: 'mish',
  // keras-activations.ts
  hard_silu: 'hard_silu',
  hard_swish: 'hard_silu',
  leaky_relu: 'leaky_relu',
  exponential: 'exponential',
};

/** Keys Keras writes that tfjs has no use for (or misreads). */
const DROPPED = new Set([
  'module',
  'registered_name',
  'build_config',
  'compile_config',
  'shared_object_id',
  'quantization_config',
  'optional',
  'ragged',
  'use_cudnn',
  'lora_rank',
  'lora_alpha',
  'synchronized',
  'time_major',
  'backward_layer',
  'seed',
]);

/** The names of the classes docbatch runs (for docs and messages). */
export const SUPPORTED_KERAS_LAYERS = Object.keys(CLASSES);

/** A value for a message: JSON, at most 60 characters (configs never end up in messages whole). */
export function brief(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value ?? null) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Whether `v` is a JSON object (not null, not an array). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A dtype policy (`"float32"`, `{"class_name": "DTypePolicy", "config": {"name": ...}}`) as a tfjs dtype. */
export function dtypeName(policy: Json | undefined): string | undefined {
  let name: Json | undefined = policy;
  if (isObject(policy)) name = isObject(policy['config']) ? policy['config']['name'] : policy['name'];
  if (typeof name !== 'string') return undefined;
  if (/^(mixed_)?(b?float(16|32|64))$/.test(name)) return 'float32';
  if (/^u?int(8|16|32|64)$/.test(name)) return 'int32';
  return name;
}

function activation(value: Json | undefined, layer: string, src: ConfigSource): Json {
  let name: Json | undefined = value;
  if (isObject(value)) name = typeof value['config'] === 'string' ? value['config'] : value['class_name'];
  if (name === null || name === undefined) return 'linear';
  let mapped = typeof name === 'string' ? ACTIVATIONS[name] : undefined;
  // Keras 3's hard_sigmoid is relu6(x + 3) / 6; tfjs (and Keras 2) use clip(0.2 x + 0.5).
  if (name === 'hard_sigmoid' && src.kerasMajor === 3) mapped = 'keras3_hard_sigmoid';
  if (!mapped) {
    throw incompatible(
      src.file,
      src.field,
      `layer '${layer}' uses activation ${JSON.stringify(brief(name))}, which docbatch cannot run`,
    );
  }
  return mapped;
}

function refuse(src: ConfigSource, layer: string, what: string): never {
  throw incompatible(src.file, src.field, `layer '${layer}': ${what} is not supported`);
}

/** Per-class checks of options tfjs lacks. */
function checkOptions(cls: string, c: JsonObject, layer: string, src: ConfigSource): void {
  const format = c['data_format'];
  if (typeof format === 'string' && format !== 'channels_last') refuse(src, layer, `data_format ${format}`);
  if (c['keepdims'] === true) refuse(src, layer, 'keepdims');
  if (typeof c['groups'] === 'number' && c['groups'] !== 1) refuse(src, layer, `groups ${c['groups']}`);
  if (c['rms_scaling'] === true) refuse(src, layer, 'rms_scaling');
  if (c['stateful'] === true) refuse(src, layer, 'stateful');
  if (cls === 'InputLayer' && (c['sparse'] === true || c['ragged'] === true))
    refuse(src, layer, 'a sparse or ragged input');
  if (cls === 'Bidirectional' && isObject(c['backward_layer'])) {
    const fwd = isObject(c['layer']) ? c['layer']['class_name'] : undefined;
    if (c['backward_layer']['class_name'] !== fwd) refuse(src, layer, 'a backward layer of another class');
  }
}

/** Normalises the values of one layer config (not its class or nested layers). */
function normaliseValues(cls: string, c: JsonObject, layer: string, src: ConfigSource): JsonObject {
  checkOptions(cls, c, layer, src);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(c)) {
    if (DROPPED.has(key)) continue;
    if (key.endsWith('_initializer')) out[key] = { class_name: 'Zeros', config: {} };
    else if (key.endsWith('_regularizer') || key.endsWith('_constraint')) out[key] = null;
    else if (key === 'dtype') out[key] = dtypeName(value) ?? 'float32';
    else if (key === 'activation' || key === 'recurrent_activation') out[key] = activation(value, layer, src);
    else if (key === 'batch_shape') out['batch_input_shape'] = value;
    else out[key] = value;
  }
  if (cls === 'InputLayer') {
    const dtype = out['dtype'];
    if (dtype !== 'int32' && dtype !== 'float32') {
      refuse(src, layer, `input dtype ${brief(dtypeName(c['dtype']) ?? c['dtype'])}`);
    }
    delete out['sparse'];
  }
  if (cls === 'GRU') out['reset_after'] = c['reset_after'] === true;
  // Only shapes the initial bias (replaced by the file's weights); tfjs's version leaks 4 tensors.
  if (cls === 'LSTM') out['unit_forget_bias'] = false;
  if (cls === 'ReLU' && c['negative_slope'] !== undefined && c['negative_slope'] !== 0)
    refuse(src, layer, 'negative_slope');
  if (cls === 'ReLU') delete out['negative_slope'];
  return out;
}

/**
 * Normalises `{class_name, config, ...}` of one layer; `nested` normalises a whole model used as a
 * layer (a Sequential inside a Functional model).
 */
export function normaliseLayer(
  entry: JsonObject,
  src: ConfigSource,
  nested: (model: JsonObject) => JsonObject,
): JsonObject {
  const cls = entry['class_name'];
  const config = isObject(entry['config']) ? entry['config'] : {};
  const name =
    typeof config['name'] === 'string'
      ? config['name']
      : typeof entry['name'] === 'string'
        ? entry['name']
        : '?';
  if (cls === 'Sequential' || cls === 'Functional' || cls === 'Model') {
    const model = nested({ class_name: cls, config: entry['config'] ?? null });
    return { ...copyGraphKeys(entry), ...model };
  }
  const tfjsClass = typeof cls === 'string' ? CLASSES[cls] : undefined;
  if (!tfjsClass || typeof cls !== 'string') {
    throw incompatible(
      src.file,
      src.field,
      `layer '${brief(name)}' is a ${brief(cls)}, which docbatch cannot run`,
    );
  }
  const values = normaliseValues(cls, config, name, src);
  if (isObject(config['layer'])) values['layer'] = normaliseLayer(config['layer'], src, nested);
  return { ...copyGraphKeys(entry), class_name: tfjsClass, config: values };
}

/** The graph keys of a Functional model's layer entry (name, inbound_nodes), kept as they are. */
function copyGraphKeys(entry: JsonObject): JsonObject {
  const out: JsonObject = {};
  if (entry['name'] !== undefined) out['name'] = entry['name'];
  if (entry['inbound_nodes'] !== undefined) out['inbound_nodes'] = entry['inbound_nodes'];
  return out;
}
