import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadFailed } from '../model-errors';
import { readArtefact } from './artefact-file';

/**
 * A TensorFlow.js `model.json` and its weight shards read from disk into tfjs ModelArtifacts, with
 * every problem a ModelError naming the file and field: unparseable JSON, a shard that is missing,
 * outside the model directory, or not the size the manifest implies.
 */

/** The parts of a model.json the loaders read. */
export interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: tf.io.WeightsManifestConfig;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: unknown;
  initializerSignature?: unknown;
  trainingConfig?: unknown;
}

export type ModelJsonKind = 'layers' | 'graph';

function parse(text: string, file: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw loadFailed(file, 'is not valid JSON (truncated?)');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw loadFailed(file, 'is not a JSON object');
  return json as ModelJson;
}

/** Whether a model.json holds a layers model or a graph model (from `format`, else the topology). */
export function modelJsonKind(json: ModelJson): ModelJsonKind | undefined {
  if (json.format === 'layers-model') return 'layers';
  if (json.format === 'graph-model') return 'graph';
  const topology = json.modelTopology;
  if (!topology || typeof topology !== 'object') return undefined;
  if (Array.isArray(topology['node'])) return 'graph';
  if ('model_config' in topology || 'class_name' in topology) return 'layers';
  return undefined;
}

/** The kind of `<dir>/<file>` when it is a readable model.json (for loaders' `accepts`). */
export function peekModelJsonKind(dir: string, file: string): ModelJsonKind | undefined {
  if (!file.toLowerCase().endsWith('.json')) return undefined;
  try {
    return modelJsonKind(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ModelJson);
  } catch {
    return undefined;
  }
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
  complex64: 8,
};

/** Bytes the manifest implies for a group, or undefined when it cannot tell (strings). */
function groupBytes(weights: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const per = BYTES[w.quantization?.dtype ?? w.dtype];
    if (per === undefined) return undefined;
    total += per * w.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** Reads and parses `<dir>/<file>` alone (no shards): a ModelError when missing or not JSON. */
export async function readModelJsonHead(dir: string, file: string): Promise<ModelJson> {
  return parse((await readArtefact(dir, file)).toString('utf8'), file);
}

/** Reads `<dir>/<file>` and every shard its manifest lists, checking shard sizes. */
export async function readModelJson(
  dir: string,
  file: string,
): Promise<{ json: ModelJson; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  const json = await readModelJsonHead(dir, file);
  if (!json.modelTopology || typeof json.modelTopology !== 'object')
    throw loadFailed(file, 'missing', 'modelTopology');
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw loadFailed(file, 'is not a list', 'weightsManifest');
  const base = path.dirname(file);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    const shards: Buffer[] = [];
    for (const shard of group.paths ?? []) {
      shards.push(await readArtefact(dir, path.join(base, shard), `${file} weightsManifest`));
    }
    const have = shards.reduce((n, b) => n + b.length, 0);
    const want = groupBytes(group.weights ?? []);
    if (want !== undefined && have !== want) {
      const names = (group.paths ?? []).join(', ');
      const what = group.paths?.length === 1 ? `shard ${names} has` : `shards ${names} have`;
      throw loadFailed(file, `${what} ${have} bytes, manifest says ${want}`, 'weightsManifest');
    }
    weightSpecs.push(...(group.weights ?? []));
    buffers.push(...shards);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { json, weightSpecs, weightData };
}
