import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * On-disk format of a `seq2seq-attention` model (`model.json` + weight shards in the version directory).
 *
 * `model.json` is a TensorFlow.js weights manifest with the architecture next to it:
 * ```
 * {"format": "docbatch-seq2seq/1",
 *  "architecture": {"type": "transformer-pre-ln", "vocab_size": 6000, "d_model": 256, "heads": 4, "ff": 768,
 *                   "encoder_layers": 3, "decoder_layers": 2, "max_positions": 512, "layer_norm_epsilon": 1e-5},
 *  "weightsManifest": [{"paths": ["weights.bin"], "weights": [{"name": "embedding", "shape": [6000, 256],
 *                        "dtype": "float32", "quantization": {"dtype": "float16"}}, ...]}]}
 * ```
 * Shards are decoded with `tf.io.decodeWeights`, so any tfjs quantisation (float16, uint8, uint16) works.
 * Dense kernels are stored `[in, out]`. Weight names are listed in `transformer.ts`.
 */
export const SEQ2SEQ_FORMAT = 'docbatch-seq2seq/1';

export interface TransformerArchitecture {
  type: 'transformer-pre-ln';
  vocab_size: number;
  d_model: number;
  heads: number;
  ff: number;
  encoder_layers: number;
  decoder_layers: number;
  max_positions: number;
  layer_norm_epsilon: number;
  /**
   * Size of a factorised shared embedding (optional; default `d_model`, no factorisation). When smaller than
   * `d_model`, `embedding` is `[vocab, embedding_dim]`, inputs are `embedding @ embedding_in/kernel`
   * (`[embedding_dim, d_model]`) and logits are `(h @ embedding_out/kernel) @ embedding^T`
   * (`embedding_out/kernel`: `[d_model, embedding_dim]`), so the output projection costs vocab x embedding_dim.
   */
  embedding_dim: number;
}

interface Seq2SeqModelJson {
  format?: string;
  architecture?: Partial<TransformerArchitecture>;
  weightsManifest?: tf.io.WeightsManifestConfig;
}

export interface Seq2SeqArtifacts {
  architecture: TransformerArchitecture;
  weights: tf.NamedTensorMap;
}

function positiveInt(value: unknown, field: string, file: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${file}: architecture.${field} must be a positive integer`);
  }
  return value;
}

function parseArchitecture(
  raw: Partial<TransformerArchitecture> | undefined,
  file: string,
): TransformerArchitecture {
  if (!raw || raw.type !== 'transformer-pre-ln') {
    throw new Error(`${file}: architecture.type must be "transformer-pre-ln"`);
  }
  const arch: TransformerArchitecture = {
    type: raw.type,
    vocab_size: positiveInt(raw.vocab_size, 'vocab_size', file),
    d_model: positiveInt(raw.d_model, 'd_model', file),
    heads: positiveInt(raw.heads, 'heads', file),
    ff: positiveInt(raw.ff, 'ff', file),
    encoder_layers: positiveInt(raw.encoder_layers, 'encoder_layers', file),
    decoder_layers: positiveInt(raw.decoder_layers, 'decoder_layers', file),
    max_positions: positiveInt(raw.max_positions, 'max_positions', file),
    layer_norm_epsilon: typeof raw.layer_norm_epsilon === 'number' ? raw.layer_norm_epsilon : 1e-5,
    embedding_dim:
      raw.embedding_dim === undefined
        ? positiveInt(raw.d_model, 'd_model', file)
        : positiveInt(raw.embedding_dim, 'embedding_dim', file),
  };
  if (arch.embedding_dim > arch.d_model) throw new Error(`${file}: embedding_dim must not exceed d_model`);
  if (arch.d_model % arch.heads !== 0) throw new Error(`${file}: d_model must be a multiple of heads`);
  return arch;
}

/** Reads and decodes `<dir>/model.json` and its shards. The caller owns (and must dispose) the tensors. */
export async function readSeq2SeqArtifacts(dir: string, file = 'model.json'): Promise<Seq2SeqArtifacts> {
  const jsonPath = path.join(dir, file);
  const json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as Seq2SeqModelJson;
  if (json.format !== SEQ2SEQ_FORMAT) throw new Error(`${jsonPath}: format must be "${SEQ2SEQ_FORMAT}"`);
  const architecture = parseArchitecture(json.architecture, jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const shard of group.paths) {
      const resolved = path.resolve(dir, shard);
      if (path.relative(dir, resolved).startsWith('..'))
        throw new Error(`weight path escapes ${dir}: ${shard}`);
      buffers.push(await fs.readFile(resolved));
    }
  }
  const data = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    data.set(b, offset);
    offset += b.byteLength;
  }
  const weights = tf.io.decodeWeights(data.buffer, specs);
  return { architecture, weights };
}
