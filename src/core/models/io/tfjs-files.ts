import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Reading and writing TensorFlow.js `model.json` + weight shards on the local disk.
 *
 * tfjs without tfjs-node has no `file://` IO handler, so these build the in-memory `ModelArtifacts`
 * themselves. The layout is the standard tfjs one produced by `model.save()` and the Python
 * converter, so models made elsewhere load unchanged.
 */

interface ModelJson {
  modelTopology?: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest?: tf.io.WeightsManifestConfig;
  trainingConfig?: tf.io.TrainingConfig;
  userDefinedMetadata?: Record<string, unknown>;
}

function concat(buffers: Buffer[]): ArrayBuffer {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(b, offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** Reads `<dir>/<file>` (a tfjs model.json) and every weight shard it lists into ModelArtifacts. */
export async function readModelArtifacts(dir: string, file = 'model.json'): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as ModelJson;
  if (!json.modelTopology) throw new Error(`${path.join(dir, file)} has no modelTopology`);
  const manifest = json.weightsManifest ?? [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    weightSpecs.push(...group.weights);
    for (const shard of group.paths) {
      const resolved = path.resolve(dir, shard);
      if (path.relative(dir, resolved).startsWith('..'))
        throw new Error(`weight path escapes ${dir}: ${shard}`);
      buffers.push(await fs.readFile(resolved));
    }
  }
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    weightSpecs,
    weightData: concat(buffers),
  };
}

/** Loads a tfjs LayersModel stored in `dir` (model.json + shards). */
export async function loadLayersModelFromDir(dir: string, file = 'model.json'): Promise<tf.LayersModel> {
  const artifacts = await readModelArtifacts(dir, file);
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

/**
 * An IOHandler for `model.save()` that writes `<dir>/model.json` and a single `<dir>/weights.bin`.
 * Use as `await model.save(fileSaveHandler(dir))`.
 */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    await fs.mkdir(dir, { recursive: true });
    const data = artifacts.weightData;
    const bytes =
      data == null
        ? new Uint8Array(0)
        : new Uint8Array(Array.isArray(data) ? concat(data.map((b) => Buffer.from(b))) : data);
    const json: ModelJson = {
      modelTopology: artifacts.modelTopology as object,
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
    await fs.writeFile(path.join(dir, 'weights.bin'), bytes);
    await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        weightDataBytes: bytes.byteLength,
      },
    };
  });
}
