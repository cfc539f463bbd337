import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { modelConfig } from '../io/model-config';
import { tokenizeWords } from '../tokenizers/word-tokenizer';
import {
  DocumentInputError,
  type EncodedDocument,
  type ModelInfo,
  type SummarizationOptions,
  type SummarizationResult,
  type TaskModel,
  type TaskOptions,
} from '../types';
import { IdfTable } from './idf-table';
import { iterateSentences } from '../text/sentence-splitter';

/**
 * Runtime `extractive-summarizer`: LexRank-style centrality over TF-IDF sentence vectors.
 *
 * `encode` splits the text into sentences (stopping at `max_input_sentences` sentences or
 * `max_length` terms, whichever comes first) and maps each sentence's non-stopword words to term ids.
 * `runBatch` builds one padded tensor `[documents, sentences, terms]` of TF-IDF weights per tensor
 * batch (rows unit-normalised), takes the cosine-similarity matrix of every document with one
 * batched `tf.matMul`, and runs PageRank power iterations on the row-normalised matrices (all in
 * tensor ops). The `k` best sentences by centrality x `sentenceQuality` are returned in document order:
 * dialogue fragments, sentences with unbalanced quotes and sentences cut after a title are skipped while
 * the document has enough other sentences (`selectSentences`).
 *
 * `config.json` fields read here (besides the common ones; `max_length` = terms per document):
 * - `idf_file` (default `idf.tsv`), `stopwords_file` (default `stopwords.txt`, optional file).
 * - `oov_idf`: IDF of terms missing from the table (default: the table's largest IDF).
 * - `max_input_sentences` (default 1000): sentences considered per document.
 * - `max_terms_per_document` (default 4096): distinct terms per document kept as tensor columns;
 *   beyond it terms share columns (hashing).
 * - `damping` (default 0.85) and `iterations` (default 30) of the power iteration.
 * - `max_batch_cells` (default 8,000,000): a tensor batch whose padded `[d, s, t]` tensor would hold
 *   more cells is run in several slices (bounds memory at ~32 MB per slice).
 */
export interface ExtractiveSummarizerConfig {
  idf_file?: string;
  oov_idf?: number;
  stopwords_file?: string;
  max_input_sentences?: number;
  max_terms_per_document?: number;
  damping?: number;
  iterations?: number;
  max_batch_cells?: number;
}

export const EMPTY_DOCUMENT = 'EMPTY_DOCUMENT';
export const INVALID_OPTION = 'INVALID_OPTION';
export const DEFAULT_MAX_SENTENCES = 3;

/** What `encode` keeps next to the term ids. */
export interface SummaryPayload {
  /** The sentences considered, in document order. */
  sentences: string[];
  /** `offsets[i]..offsets[i+1]` are the term ids of sentence i within `ids` (length sentences + 1). */
  offsets: Int32Array;
}

/**
 * Number of sentences to return for a document of `n` sentences: `max_sentences` (default 3) and
 * `ceil(ratio * n)`, the smaller of the two when both are given; never more than `n`.
 */
export function summaryLength(n: number, options: SummarizationOptions): number {
  const { max_sentences: maxSentences, ratio } = options;
  if (maxSentences !== undefined && (!Number.isInteger(maxSentences) || maxSentences < 1)) {
    throw new DocumentInputError(INVALID_OPTION, 'max_sentences must be a positive integer');
  }
  if (ratio !== undefined && (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1))) {
    throw new DocumentInputError(INVALID_OPTION, 'ratio must be a number in (0, 1]');
  }
  let k = maxSentences ?? (ratio === undefined ? DEFAULT_MAX_SENTENCES : Number.POSITIVE_INFINITY);
  if (ratio !== undefined) k = Math.min(k, Math.max(1, Math.ceil(ratio * n)));
  return Math.min(k, n);
}

function readStopwords(file: string): Set<string> {
  try {
    return new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .map((w) => w.trim())
        .filter(Boolean),
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw err;
  }
}

interface Prepared {
  sentences: number;
  /** Column of each term occurrence, sentence by sentence (-1: term in one sentence only, no column). */
  cols: Int32Array;
  /** Weight of each term occurrence: its IDF divided by its sentence's TF-IDF norm. */
  weights: Float32Array;
  offsets: Int32Array;
  terms: number;
}

export class ExtractiveSummarizer implements TaskModel {
  private readonly maxInputSentences: number;
  private readonly maxTerms: number;
  private readonly damping: number;
  private readonly iterations: number;
  private readonly maxCells: number;

  constructor(
    readonly info: ModelInfo,
    private readonly idf: IdfTable,
    private readonly stopwords: Set<string>,
    config: ExtractiveSummarizerConfig = {},
  ) {
    this.maxInputSentences = config.max_input_sentences ?? 1000;
    this.maxTerms = config.max_terms_per_document ?? 4096;
    this.damping = config.damping ?? 0.85;
    this.iterations = config.iterations ?? 30;
    this.maxCells = config.max_batch_cells ?? 8_000_000;
    if (!(this.damping > 0 && this.damping < 1)) throw new Error(`${info.id}: damping must be in (0, 1)`);
  }

  static load(info: ModelInfo): ExtractiveSummarizer {
    const config = modelConfig(info) as ExtractiveSummarizerConfig;
    const idf = IdfTable.fromFile(path.join(info.dir, config.idf_file ?? 'idf.tsv'), config.oov_idf);
    const stopwords = readStopwords(path.join(info.dir, config.stopwords_file ?? 'stopwords.txt'));
    return new ExtractiveSummarizer(info, idf, stopwords, config);
  }

  encode(text: string, options: TaskOptions = {}): EncodedDocument {
    summaryLength(1, options as SummarizationOptions); // validates the options before any work
    const sentences: string[] = [];
    const offsets: number[] = [0];
    const ids: number[] = [];
    const budget = this.info.maxLength;
    for (const span of iterateSentences(text)) {
      if (sentences.length >= this.maxInputSentences || ids.length >= budget) break;
      const words = tokenizeWords(text, { start: span.start, end: span.end, maxTokens: budget - ids.length });
      for (const w of words) if (!this.stopwords.has(w)) ids.push(this.idf.idOf(w));
      sentences.push(text.slice(span.start, span.end).replace(/\s+/g, ' '));
      offsets.push(ids.length);
    }
    if (sentences.length === 0)
      throw new DocumentInputError(EMPTY_DOCUMENT, 'text has no sentences after cleaning');
    const payload: SummaryPayload = { sentences, offsets: Int32Array.from(offsets) };
    return { ids: Int32Array.from(ids), length: Math.max(1, ids.length), payload };
  }

  async runBatch(batch: EncodedDocument[], options: TaskOptions = {}): Promise<SummarizationResult[]> {
    const prepared = batch.map((doc) => this.prepare(doc));
    const ks = prepared.map((p) => summaryLength(p.sentences, options as SummarizationOptions));
    const results: SummarizationResult[] = new Array(batch.length);
    for (const slice of this.slices(prepared)) {
      const scores = await this.centrality(slice.map((i) => prepared[i]!));
      slice.forEach((docIndex, row) => {
        const p = prepared[docIndex]!;
        const rowScores = scores.subarray(row * scores.stride, row * scores.stride + p.sentences);
        const payload = batch[docIndex]!.payload as SummaryPayload;
        const chosen = selectSentences(rowScores, payload.sentences, ks[docIndex]!);
        results[docIndex] = {
          summary: chosen.map((i) => payload.sentences[i]!).join(' '),
          sentence_indices: chosen,
        };
      });
    }
    return results;
  }

  dispose(): void {
    // No tensors outlive a runBatch call.
  }

  /**
   * Maps a document's term ids to local tensor columns holding unit-normalised TF-IDF weights. Each
   * sentence's norm is computed over all its terms, but only terms found in two or more sentences get
   * a column: a term unique to one sentence adds nothing to any dot product, so dropping it keeps the
   * cosine similarities exact and shrinks the tensor (typically by half).
   */
  private prepare(doc: EncodedDocument): Prepared {
    const payload = doc.payload as SummaryPayload | undefined;
    if (!payload || !Array.isArray(payload.sentences) || !(payload.offsets instanceof Int32Array)) {
      throw new Error(`${this.info.id}: document was not encoded by this summarizer`);
    }
    const { offsets } = payload;
    const sentences = payload.sentences.length;
    const sentenceDf = new Map<number, number>();
    const lastSentence = new Map<number, number>();
    const norms = new Float64Array(sentences);
    for (let si = 0; si < sentences; si++) {
      const counts = new Map<number, number>();
      for (let k = offsets[si]!; k < offsets[si + 1]!; k++)
        counts.set(doc.ids[k]!, (counts.get(doc.ids[k]!) ?? 0) + 1);
      let sq = 0;
      for (const [id, c] of counts) {
        const w = c * this.idf.idfOf(id);
        sq += w * w;
        if (lastSentence.get(id) !== si) {
          lastSentence.set(id, si);
          sentenceDf.set(id, (sentenceDf.get(id) ?? 0) + 1);
        }
      }
      norms[si] = Math.sqrt(sq);
    }
    const columns = new Map<number, number>();
    const cols = new Int32Array(doc.ids.length).fill(-1);
    const weights = new Float32Array(doc.ids.length);
    for (let si = 0; si < sentences; si++) {
      for (let k = offsets[si]!; k < offsets[si + 1]!; k++) {
        const id = doc.ids[k]!;
        if ((sentenceDf.get(id) ?? 0) < 2) continue;
        let c = columns.get(id);
        if (c === undefined) {
          c = columns.size % this.maxTerms;
          columns.set(id, c);
        }
        cols[k] = c;
        weights[k] = this.idf.idfOf(id) / norms[si]!;
      }
    }
    return {
      sentences,
      cols,
      weights,
      offsets,
      terms: Math.max(1, Math.min(columns.size, this.maxTerms)),
    };
  }

  /** Groups of batch indices whose padded tensor stays under `max_batch_cells`. */
  private slices(prepared: Prepared[]): number[][] {
    const out: number[][] = [];
    let current: number[] = [];
    let s = 0;
    let t = 0;
    prepared.forEach((p, i) => {
      const ns = Math.max(s, p.sentences);
      const nt = Math.max(t, p.terms);
      if (current.length > 0 && (current.length + 1) * ns * nt > this.maxCells) {
        out.push(current);
        current = [];
        s = p.sentences;
        t = p.terms;
      } else {
        s = ns;
        t = nt;
      }
      current.push(i);
    });
    if (current.length > 0) out.push(current);
    return out;
  }

  /** LexRank scores `[docs, maxSentences]` (row stride = max sentences in the slice). */
  private async centrality(docs: Prepared[]): Promise<Float32Array & { stride: number }> {
    const b = docs.length;
    const s = Math.max(...docs.map((d) => d.sentences));
    const t = Math.max(...docs.map((d) => d.terms));
    const x = new Float32Array(b * s * t);
    const valid = new Float32Array(b * s);
    docs.forEach((d, di) => {
      for (let si = 0; si < d.sentences; si++) {
        valid[di * s + si] = 1;
        const row = (di * s + si) * t;
        for (let k = d.offsets[si]!; k < d.offsets[si + 1]!; k++) {
          if (d.cols[k]! >= 0) x[row + d.cols[k]!]! += d.weights[k]!;
        }
      }
    });
    const damping = this.damping;
    const iterations = this.iterations;
    // Padded sentences are all-zero rows, so they have zero similarity to everything and get zero
    // rows in the transition matrix. The PageRank operator is folded into one matrix per document,
    // G = d * P + (d * dangling + (1 - d)) * teleport^T, so each power iteration is a single matMul.
    const out = tf.tidy(() => {
      const unit = tf.tensor3d(x, [b, s, t]);
      const mask = tf.tensor3d(valid, [b, s, 1]);
      const offDiagonal = tf.sub(1, tf.eye(s)).expandDims(0);
      const sim = tf.mul(tf.matMul(unit, unit, false, true), offDiagonal);
      const rowSum = tf.sum(sim, 2, true);
      const hasEdges = tf.cast(tf.greater(rowSum, 1e-9), 'float32');
      const transition = tf.mul(sim, tf.div(hasEdges, tf.maximum(rowSum, 1e-9)));
      const dangling = tf.mul(tf.sub(1, hasEdges), mask);
      const teleport = tf.div(mask, tf.sum(mask, 1, true));
      const jump = tf.add(tf.mul(damping, dangling), tf.mul(1 - damping, mask));
      const google = tf.add(tf.mul(damping, transition), tf.matMul(jump, teleport, false, true));
      // p <- G^T p, `iterations` times, as (G^T)^iterations p by repeated squaring: 2 log2(iterations)
      // matMuls instead of `iterations` (9 ops instead of 30: each tiny op costs ~0.14 ms on the
      // native backend, where the loop was most of a batch's time).
      let p: tf.Tensor = teleport;
      let power: tf.Tensor = tf.transpose(google, [0, 2, 1]);
      for (let k = iterations; k > 0;) {
        if (k & 1) p = tf.matMul(power, p);
        k >>= 1;
        if (k > 0) power = tf.matMul(power, power);
      }
      return p.reshape([b, s]);
    });
    try {
      const data = (await out.data()) as Float32Array;
      return Object.assign(data, { stride: s });
    } finally {
      out.dispose();
    }
  }
}

/** Words (letter/digit runs) in a sentence. */
function wordCount(sentence: string): number {
  return sentence.match(/[\p{L}\p{N}]+(?:['’]\p{L}+)*/gu)?.length ?? 0;
}

/** Share of a sentence's letters that lie inside double quotes (straight or curly). */
export function quotedShare(sentence: string): number {
  let open = false;
  let inside = 0;
  let letters = 0;
  for (const c of sentence) {
    if (c === '"') open = !open;
    else if (c === '“') open = true;
    else if (c === '”') open = false;
    else if (/\p{L}/u.test(c)) {
      letters++;
      if (open) inside++;
    }
  }
  return letters === 0 ? 0 : inside / letters;
}

/** Whether the double quotes of a sentence are unbalanced (odd `"` count, or `“` and `”` counts differ). */
export function hasUnbalancedQuotes(sentence: string): boolean {
  const straight = (sentence.match(/"/g) ?? []).length;
  const open = (sentence.match(/“/g) ?? []).length;
  const close = (sentence.match(/”/g) ?? []).length;
  return straight % 2 === 1 || open !== close;
}

const TITLE_AT_END =
  /(?:^|[\s\-—–("“])(?:Mr|Mrs|Ms|Messrs|Dr|Prof|Rev|Col|Capt|Gen|Lt|Sgt|St|Sir|Hon)\.["”']?$/;

/**
 * How fit a sentence is to stand alone in a summary, in [0, 1]; 0 means "skip while others remain":
 * - 0 for unbalanced double quotes (a fragment of a longer speech), a sentence that ends on a title
 *   (`... --Mr.`: cut before the name), fewer than 5 words, or an exclamation or question of fewer
 *   than 10 words (`"Oh! dear!"`);
 * - otherwise `1 - 0.25 * quotedShare`: quoted speech ranks a little below narration of equal centrality
 *   (a stronger penalty lowered keyword recall on development chapters, not the held-out ones).
 */
export function sentenceQuality(sentence: string): number {
  const words = wordCount(sentence);
  if (words < 5 || hasUnbalancedQuotes(sentence) || TITLE_AT_END.test(sentence.trimEnd())) return 0;
  if (/[!?]["”'’)\]]*$/.test(sentence.trimEnd()) && words < 10) return 0;
  return 1 - 0.25 * quotedShare(sentence);
}

/**
 * Indices (ascending) of the `k` sentences to return: the best by `score * sentenceQuality` among
 * sentences of positive quality; when fewer than `k` have positive quality, the rest are filled by
 * centrality alone (a document of only dialogue fragments still gets a summary of `k` sentences).
 */
export function selectSentences(scores: Float32Array, sentences: string[], k: number): number[] {
  const quality = sentences.map((s) => sentenceQuality(s));
  const keyed = Array.from(scores.keys()).map((i) => ({
    i,
    good: (quality[i] ?? 0) > 0,
    value: (quality[i] ?? 0) > 0 ? scores[i]! * quality[i]! : scores[i]!,
  }));
  keyed.sort((a, b) => Number(b.good) - Number(a.good) || b.value - a.value || a.i - b.i);
  return keyed
    .slice(0, k)
    .map((x) => x.i)
    .sort((a, b) => a - b);
}

/** Indices of the `k` largest scores (ties: earlier sentence first), returned in ascending order. */
export function topIndices(scores: Float32Array, k: number): number[] {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

export async function loadExtractiveSummarizer(info: ModelInfo): Promise<TaskModel> {
  if (info.task !== 'summarization') throw new Error(`${info.id}: task is ${info.task}, not summarization`);
  return ExtractiveSummarizer.load(info);
}
