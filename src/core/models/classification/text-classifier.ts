import * as tf from '@tensorflow/tfjs';
import { ModelError, incompatible } from '../model-errors';
import { loadNetwork } from '../network';
import type { Network } from '../network/types';
import { createTokenizer } from '../tokenizers/create-tokenizer';
import type { TextTokenizer } from '../tokenizers/text-tokenizer';
import {
  DocumentInputError,
  type ClassificationOptions,
  type ClassificationResult,
  type EncodedDocument,
  type ModelInfo,
  type TaskModel,
  type TaskOptions,
} from '../types';
import { parseClassifierConfig, type ClassifierConfig } from './classifier-config';
import { createHead, type OutputHead } from './heads';
import { planInputs, type InputPlan } from './input-binding';
import { shapeIds } from './input-shaping';
// Registers custom layers that served models may use (side effect).
import './masked-global-pooling';

/**
 * Runtime `text-classifier`: composes the four parts of a classification model from its
 * `config.json`, the way transformers' `pipeline()` composes a tokenizer, a model and its
 * post-processing:
 *
 * 1. a **tokenizer** (`tokenizer.type`: `word`, `keras`, `huggingface`; ../tokenizers),
 * 2. **input shaping** (`input`: length, padding, truncating; input-shaping.ts),
 * 3. a **network** (`model_file`: Keras `.h5` / `.keras`, tfjs layers or graph; ../network),
 * 4. a **head** (`output`: probabilities, logits, sigmoid, multi_label; heads.ts).
 *
 * Loading checks the parts against each other before the first batch (input names, length and
 * dtype, vocabulary vs embedding rows, output units vs labels) and runs one probe document, so a
 * model that cannot serve fails at load with a {@link ModelError} naming the file and field.
 */

export const EMPTY_DOCUMENT = 'EMPTY_DOCUMENT';
export const INVALID_OPTION = 'INVALID_OPTION';

/** Extra per-document data beside the ids: where the real tokens are, and token type ids. */
interface ClassifierPayload {
  /** Real (non-padding) tokens are `ids[start, end)`. */
  start: number;
  end: number;
  typeIds?: Int32Array;
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
  private readonly nLabels: number;
  private readonly units: number;
  private readonly fixedLength: boolean;
  /** The tokenizer's own truncation, where it has one (Hugging Face; `word` keeps the first ids). */
  private readonly maxIdsHint: number | undefined;

  private constructor(
    readonly info: ModelInfo,
    private readonly config: ClassifierConfig,
    private readonly tokenizer: TextTokenizer,
    private readonly network: Network,
    private readonly plan: InputPlan,
    private readonly head: OutputHead,
  ) {
    this.nLabels = config.labels.length;
    this.units = head.unitsFor(this.nLabels);
    this.fixedLength = plan.shape.length !== undefined;
    const max = plan.shape.length ?? plan.shape.maxLength;
    this.maxIdsHint =
      tokenizer.type === 'huggingface' || (tokenizer.type === 'word' && plan.shape.truncating === 'post')
        ? max
        : undefined;
  }

  /** Loads and checks every part; throws a {@link ModelError} naming the file and field. */
  static async load(info: ModelInfo): Promise<TextClassifier> {
    const config = parseClassifierConfig(info);
    const head = createHead(config.output, config.labels);
    const tokenizer = createTokenizer(info.dir, config.raw);
    const network = await loadNetwork(
      info.dir,
      config.modelFile,
      config.outputName ? { outputName: config.outputName } : {},
    );
    try {
      const plan = planInputs(network.spec, config, tokenizer);
      const out = network.spec.outputs.find((o) => o.name === config.outputName) ?? network.spec.outputs[0];
      const units = head.unitsFor(config.labels.length);
      const outUnits = out?.shape[out.shape.length - 1];
      if (!out || out.shape.length !== 2 || (typeof outUnits === 'number' && outUnits !== units)) {
        throw incompatible(
          'config.json',
          head.kind === 'sigmoid' ? 'output' : 'labels',
          `${config.modelFile} output ${out ? `'${out.name}' has shape ${JSON.stringify(out.shape)}` : 'is missing'}; ` +
            (head.kind === 'sigmoid'
              ? 'output "sigmoid" needs one unit [batch, 1]'
              : `${config.labels.length} labels with output "${head.kind}" need [batch, ${units}]`),
        );
      }
      const model = new TextClassifier(info, config, tokenizer, network, plan, head);
      await model.probe();
      return model;
    } catch (err) {
      network.dispose();
      throw err;
    }
  }

  /** Runs one padding-only document: a network that cannot run with these inputs fails here. */
  private async probe(): Promise<void> {
    const len = this.plan.shape.length ?? 1;
    const ids = new Int32Array(len).fill(this.plan.shape.padId);
    try {
      await this.predict([{ ids, length: len, payload: { start: 0, end: len } satisfies ClassifierPayload }]);
    } catch (err) {
      if (err instanceof ModelError) throw err;
      throw incompatible(
        this.config.modelFile,
        'probe',
        `the model fails on a padding-only input: ${firstLine(err)}`,
      );
    }
  }

  encode(text: string, _options: TaskOptions = {}): EncodedDocument {
    const tokens = this.tokenizer.encode(text, this.maxIdsHint);
    if (tokens.ids.length === 0 && !this.fixedLength) {
      throw new DocumentInputError(EMPTY_DOCUMENT, 'text has no tokens after tokenization');
    }
    const shaped = shapeIds(tokens.ids, this.plan.shape);
    const payload: ClassifierPayload = { start: shaped.start, end: shaped.end };
    if (tokens.typeIds && this.plan.inputs.some((i) => i.role === 'token_type_ids')) {
      payload.typeIds = shapeIds(tokens.typeIds, { ...this.plan.shape, padId: 0 }).ids.slice();
    }
    // A copy: a view would keep the tokenizer's whole buffer alive.
    const ids =
      shaped.ids.byteOffset === 0 && shaped.ids.length === shaped.ids.buffer.byteLength / 4
        ? shaped.ids
        : shaped.ids.slice();
    return { ids, length: ids.length, payload };
  }

  async runBatch(batch: EncodedDocument[], options: TaskOptions = {}): Promise<ClassificationResult[]> {
    if (this.disposed) throw new Error(`${this.info.id} is disposed`);
    if (batch.length === 0) return [];
    const k = topK(options as ClassificationOptions, this.nLabels);
    const groups =
      this.fixedLength || this.config.paddingInvariant ? [batch.map((_, i) => i)] : groupByLength(batch);
    const probs = new Float32Array(batch.length * this.nLabels);
    for (const group of groups) {
      const raw = await this.predict(group.map((i) => batch[i]!));
      const scores = this.head.scores(raw, group.length, this.nLabels);
      group.forEach((docIndex, row) =>
        probs.set(scores.subarray(row * this.nLabels, (row + 1) * this.nLabels), docIndex * this.nLabels),
      );
    }
    return batch.map((_, i) => this.result(probs.subarray(i * this.nLabels, (i + 1) * this.nLabels), k));
  }

  /** Raw network output, `docs.length x units`, for documents padded (right) to the longest. */
  private async predict(docs: EncodedDocument[]): Promise<Float32Array> {
    const len = Math.max(1, ...docs.map((d) => d.ids.length));
    const n = docs.length;
    const feeds: Record<string, tf.Tensor> = {};
    try {
      for (const input of this.plan.inputs) {
        const flat = new Int32Array(n * len);
        docs.forEach((d, row) => {
          const p = (d.payload ?? { start: 0, end: d.ids.length }) as ClassifierPayload;
          const at = row * len;
          if (input.role === 'ids') {
            if (this.plan.shape.padId !== 0) flat.fill(this.plan.shape.padId, at, at + len);
            flat.set(d.ids, at);
          } else if (input.role === 'attention_mask') {
            flat.fill(1, at + p.start, at + p.end);
          } else if (p.typeIds) {
            flat.set(p.typeIds, at);
          }
        });
        const t = tf.tensor2d(flat, [n, len], 'int32');
        if (input.dtype === 'int32') feeds[input.name] = t;
        else {
          feeds[input.name] = tf.cast(t, input.dtype);
          t.dispose();
        }
      }
      const out = await this.network.predict(feeds);
      try {
        if (out.shape.length !== 2 || out.shape[0] !== n || out.shape[1] !== this.units) {
          throw incompatible(
            this.config.modelFile,
            'output',
            `gave shape ${JSON.stringify(out.shape)} for ${n} documents; expected [${n}, ${this.units}]`,
          );
        }
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    } finally {
      for (const t of Object.values(feeds)) t.dispose();
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
    this.network.dispose();
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
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
