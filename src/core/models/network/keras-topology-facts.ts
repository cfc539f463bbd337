import { isObject, type Json, type JsonObject } from './keras-layer-config';

/**
 * Facts about a normalised Keras model config (keras-model-config.ts) that the network spec reports
 * under Keras's names (tfjs renames layers it has seen before in the same process).
 */

/** Names of the model's inputs and outputs, as Keras named them. */
export function kerasIoNames(model: JsonObject): { inputs: string[]; outputs: string[] } {
  const config = isObject(model['config']) ? model['config'] : {};
  const layers = (Array.isArray(config['layers']) ? config['layers'] : []).filter(isObject);
  const nameOf = (l: JsonObject | undefined): string => {
    const c = l && isObject(l['config']) ? l['config'] : {};
    return String(c['name'] ?? l?.['name'] ?? '');
  };
  if (model['class_name'] === 'Sequential') {
    const first = layers[0];
    const input = first?.['class_name'] === 'InputLayer' ? nameOf(first) : `${nameOf(first)}_input`;
    return { inputs: [input], outputs: [nameOf(layers[layers.length - 1])] };
  }
  const first = (v: Json | undefined): string[] =>
    (Array.isArray(v) ? v : []).map((t) => (Array.isArray(t) ? String(t[0]) : ''));
  return { inputs: first(config['input_layers']), outputs: first(config['output_layers']) };
}

/**
 * The vocabulary size a normalised Keras model (keras-model-config.ts) accepts on its first input:
 * the `input_dim` of the Embedding layers that input feeds (the smallest, when several do), looking
 * into a nested model that takes the input. Undefined when no Embedding reads the input directly.
 */
export function kerasVocabSize(model: JsonObject): number | undefined {
  const config = isObject(model['config']) ? model['config'] : {};
  const layers = (Array.isArray(config['layers']) ? config['layers'] : []).filter(isObject);
  if (model['class_name'] === 'Sequential') {
    const first = layers.find((l) => l['class_name'] !== 'InputLayer' && l['class_name'] !== 'Masking');
    return first ? consumerVocab(first) : undefined;
  }
  const inputs = Array.isArray(config['input_layers']) ? config['input_layers'] : [];
  const ids = Array.isArray(inputs[0]) ? inputs[0][0] : undefined;
  if (typeof ids !== 'string') return undefined;
  const sizes = layers
    .filter((l) => feedsFrom(l, ids))
    .map(consumerVocab)
    .filter((v): v is number => v !== undefined);
  return sizes.length > 0 ? Math.min(...sizes) : undefined;
}

function consumerVocab(layer: JsonObject): number | undefined {
  const cls = layer['class_name'];
  const config = isObject(layer['config']) ? layer['config'] : {};
  if (cls === 'Embedding') return typeof config['input_dim'] === 'number' ? config['input_dim'] : undefined;
  if (cls === 'Sequential' || cls === 'Model') return kerasVocabSize(layer);
  return undefined;
}

/** Whether a Functional layer entry takes the output of layer `name` (Keras 2 node format). */
function feedsFrom(layer: JsonObject, name: string): boolean {
  const nodes: Json[] = Array.isArray(layer['inbound_nodes']) ? layer['inbound_nodes'] : [];
  return nodes.some((node) => Array.isArray(node) && node.some((t) => Array.isArray(t) && t[0] === name));
}
