import type * as tf from '@tensorflow/tfjs';
import type { ModelJson } from './model-json-files';
import type { TensorSpec } from './types';

/**
 * What a TensorFlow.js graph model declares about itself: its signature's inputs and outputs
 * (names without the `:0` tensor suffix, TensorFlow dtypes as tfjs names with int64 kept, -1 as a
 * free dimension) and the vocabulary size of its embedding lookup.
 */

interface SignatureTensor {
  name?: string;
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}

const DTYPES: Record<string, string> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_HALF: 'float16',
  DT_INT32: 'int32',
  DT_INT64: 'int64',
  DT_INT16: 'int16',
  DT_INT8: 'int8',
  DT_UINT8: 'uint8',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
};

/** `input_ids:0` -> `input_ids`. */
export const tensorName = (name: string): string => name.replace(/:0$/, '');

function fromSignature(key: string, t: SignatureTensor): TensorSpec {
  const dims = t.tensorShape?.dim ?? [];
  return {
    name: tensorName(key),
    shape: dims.map((d) => {
      const n = Number(d.size ?? -1);
      return n < 0 ? null : n;
    }),
    dtype: DTYPES[t.dtype ?? ''] ?? String(t.dtype ?? 'float32'),
  };
}

function fromModel(list: tf.ModelTensorInfo[]): TensorSpec[] {
  return list.map((t) => ({
    name: tensorName(t.name),
    shape: (t.shape ?? []).map((d) => (d < 0 ? null : d)),
    dtype: t.dtype ?? 'float32',
  }));
}

/** Inputs and outputs from the model.json `signature`, else from what tfjs reads of the graph. */
export function graphTensors(
  json: ModelJson,
  model: { inputs: tf.ModelTensorInfo[]; outputs: tf.ModelTensorInfo[] },
): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const sig = json.signature as {
    inputs?: Record<string, SignatureTensor>;
    outputs?: Record<string, SignatureTensor>;
  };
  const list = (m?: Record<string, SignatureTensor>) =>
    Object.entries(m ?? {}).map(([k, t]) => fromSignature(k, t));
  const inputs = sig?.inputs ? list(sig.inputs) : fromModel(model.inputs);
  const outputs = sig?.outputs ? list(sig.outputs) : fromModel(model.outputs);
  return { inputs, outputs };
}

/**
 * Rows of the table the first Gather / ResourceGather looks up, when that table is a weight of
 * the model (through Identity nodes): the embedding's vocabulary size.
 */
export function graphVocabSize(json: ModelJson, weights: tf.io.WeightsManifestEntry[]): number | undefined {
  const nodes = (json.modelTopology?.['node'] ?? []) as GraphNode[];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const shapes = new Map(weights.map((w) => [w.name, w.shape]));
  for (const node of nodes) {
    if (!/^(Gather|GatherV2|ResourceGather)$/.test(node.op)) continue;
    let source = node.input?.[0]?.replace(/^\^/, '').replace(/:\d+$/, '');
    for (let hops = 0; source && hops < 8; hops++) {
      const shape = shapes.get(source);
      if (shape && shape.length >= 1) return shape[0];
      const n = byName.get(source);
      if (!n || (n.op !== 'Identity' && n.op !== 'ReadVariableOp')) break;
      source = n.input?.[0]?.replace(/:\d+$/, '');
    }
  }
  return undefined;
}
