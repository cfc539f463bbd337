import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { modelConfig } from '../io/model-config';
import { loadLayersModelFromDir } from '../io/tfjs-files';
import { Vocabulary } from '../tokenizers/vocabulary';
import {
  DocumentInputError,
  type ClassificationOptions,
  type ClassificationResult,
  type EncodedDocument,
  type ModelInfo,
  type TaskModel,
  type TaskOptions,
} from '../types';
import { encodeClassifierText, type ClassifierTokenizerConfig } from './classifier-encoder';
// Registers custom layers that served models may use (side effect).
import './masked-global-pooling';

/**
 * Runtime `text-classifier`: any TensorFlow.js LayersModel that maps right-padded int32 token ids
 * `[batch, length]` (pad id 0) to `[batch, labels.length]` scores.
 *
 * `config.json` fields read here (besides the common ones):
 * - `labels` (required): label names in output order.
 * - `tokenizer`: see {@link ClassifierTokenizerConfig} (default `{"type": "word"}`).
 * - `vocab_file` (default `vocab.txt`) and `model_file` (default `model.json`), relative to the version dir.
 * - `output`: `probabilities` (default) or `logits` (softmax is applied).
 * - `padding_invariant` (default false): set true only when trailing pad ids provably do not change
 *   the output (e.g. zero pad embedding + max pooling). When false, a tensor batch is split into
 *   groups of equal length and each group runs unpadded, so results never depend on batching.
 */
export interface TextClassifierConfig {
  labels: string[];
  tokenizer?: ClassifierTokenizerConfig;
  vocab_file?: string;
  model_file?: string;
  output?: 'probabilities' | 'logits';
  padding_invariant?: boolean;
}

export const EMPTY_DOCUMENT = 'EMPTY_DOCUMENT';
export const INVALID_OPTION = 'INVALID_OPTION';

function parseConfig(info: ModelInfo): TextClassifierConfig {
  const raw = modelConfig(info) as Partial<TextClassifierConfig>;
  const labels = info.labels ?? raw.labels;
  if (!Array.isArray(labels) || labels.length < 2)
    throw new Error(`${info.id}: text-classifier needs >= 2 labels`);
  const tokenizer = raw.tokenizer ?? { type: 'word' };
  if (tokenizer.type !== 'word')
    throw new Error(`${info.id}: unsupported tokenizer type ${String(tokenizer.type)}`);
  return { ...raw, labels, tokenizer };
}

function topK(options: ClassificationOptions, nLabels: number): number {
  const k = options.top_k;
  if (k === undefined) return nLabels;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new DocumentInputError(INVALID_OPTION, 'top_k must be a positive integer');
  }
  return Math.min(k, nLabels);
}

export class TextClassifier implements TaskModel {
  private disposed = false;

  private constructor(
    readonly info: ModelInfo,
    private readonly config: TextClassifierConfig & {
      labels: string[];
      tokenizer: ClassifierTokenizerConfig;
    },
    private readonly vocab: Vocabulary,
    private readonly model: tf.LayersModel,
  ) {}

  static async load(info: ModelInfo): Promise<TextClassifier> {
    const config = parseConfig(info);
    const vocab = Vocabulary.fromFile(path.join(info.dir, config.vocab_file ?? 'vocab.txt'));
    const model = await loadLayersModelFromDir(info.dir, config.model_file ?? 'model.json');
    const outShape = model.outputs[0]?.shape;
    if (model.outputs.length !== 1 || outShape?.length !== 2 || outShape[1] !== config.labels.length) {
      model.dispose();
      throw new Error(
        `${info.id}: model output shape ${JSON.stringify(outShape)} does not match ${config.labels.length} labels`,
      );
    }
    return new TextClassifier(info, config as TextClassifier['config'], vocab, model);
  }

  encode(text: string, _options: TaskOptions = {}): EncodedDocument {
    const ids = encodeClassifierText(text, this.vocab, this.config.tokenizer, this.info.maxLength);
    if (ids.length === 0) throw new DocumentInputError(EMPTY_DOCUMENT, 'text has no words after cleaning');
    return { ids, length: ids.length };
  }

  async runBatch(batch: EncodedDocument[], options: TaskOptions = {}): Promise<ClassificationResult[]> {
    if (this.disposed) throw new Error(`${this.info.id} is disposed`);
    if (batch.length === 0) return [];
    const k = topK(options as ClassificationOptions, this.config.labels.length);
    const groups = this.config.padding_invariant ? [batch.map((_, i) => i)] : groupByLength(batch);
    const nLabels = this.config.labels.length;
    const probs = new Float32Array(batch.length * nLabels);
    for (const group of groups) {
      const values = await this.predict(group.map((i) => batch[i]!));
      group.forEach((docIndex, row) =>
        probs.set(values.subarray(row * nLabels, (row + 1) * nLabels), docIndex * nLabels),
      );
    }
    return batch.map((_, i) => this.result(probs.subarray(i * nLabels, (i + 1) * nLabels), k));
  }

  private async predict(docs: EncodedDocument[]): Promise<Float32Array> {
    const len = Math.max(1, ...docs.map((d) => d.ids.length));
    const flat = new Int32Array(docs.length * len);
    docs.forEach((d, i) => flat.set(d.ids, i * len));
    const out = tf.tidy(() => {
      const x = tf.tensor2d(flat, [docs.length, len], 'int32');
      const y = this.model.predict(x) as tf.Tensor;
      return this.config.output === 'logits' ? tf.softmax(y) : y.toFloat();
    });
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  private result(p: Float32Array, k: number): ClassificationResult {
    const labels = this.config.labels;
    const order = labels.map((_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
    const best = order[0]!;
    const scores: Record<string, number> = {};
    for (const i of order.slice(0, k)) scores[labels[i]!] = p[i]!;
    return { label: labels[best]!, score: p[best]!, scores };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Indices of the batch grouped by exact token length (first-seen order). */
function groupByLength(batch: EncodedDocument[]): number[][] {
  const groups = new Map<number, number[]>();
  batch.forEach((d, i) => {
    const g = groups.get(d.ids.length);
    if (g) g.push(i);
    else groups.set(d.ids.length, [i]);
  });
  return [...groups.values()];
}

export function loadTextClassifier(info: ModelInfo): Promise<TaskModel> {
  return TextClassifier.load(info);
}
