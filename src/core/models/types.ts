/**
 * Model-facing types shared by the registry, the task runtimes and the inference pipeline.
 *
 * Terminology:
 * - **model**: one version of a trained artifact in a model repository (`models/<name>/<version>/`),
 *   addressed as `name@version`; `name` alone means its latest version.
 * - **encoded document**: a document after tokenization and truncation, ready to be placed in a
 *   tensor batch. Its `length` is what the pipeline budgets and buckets on.
 * - **tensor batch**: the encoded documents that go through one `runBatch` call; the model pads
 *   them to the longest one in the batch.
 */

export const TASKS = ['classification', 'summarization', 'translation'] as const;
export type Task = (typeof TASKS)[number];

/** Options a client may pass per task (see the API contract); all optional. */
export interface ClassificationOptions {
  /** Return only the `top_k` best labels in `scores` (default: all labels). */
  top_k?: number;
}
export interface SummarizationOptions {
  /** Maximum number of sentences in the summary (default 3). */
  max_sentences?: number;
  /** Fraction of the document's sentences to keep, 0 < ratio <= 1; combined with max_sentences (the smaller wins). */
  ratio?: number;
}
export interface TranslationOptions {
  /** Source language (default `en`). */
  source_lang?: string;
  /** Target language (default `es`). */
  target_lang?: string;
}
export type TaskOptions = ClassificationOptions | SummarizationOptions | TranslationOptions;

export interface ClassificationResult {
  label: string;
  score: number;
  scores: Record<string, number>;
}
export interface SummarizationResult {
  summary: string;
  sentence_indices: number[];
}
export interface TranslationResult {
  translation: string;
  source_lang: string;
  target_lang: string;
}
export type TaskResult = ClassificationResult | SummarizationResult | TranslationResult;

/** A document after tokenization/truncation. */
export interface EncodedDocument {
  /** Token ids (already truncated to the model's max length). */
  ids: Int32Array;
  /** Number of tokens this document contributes to a tensor batch before padding (used for budgets and buckets). */
  length: number;
  /** Task-specific extra data kept next to the ids (e.g. the sentences of a document for summarization). */
  payload?: unknown;
}

/** Raised by `encode`/`runBatch` for one document that the model cannot process; fails that document only. */
export class DocumentInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DocumentInputError';
  }
}

/** What a model repository entry says about itself (parsed from its `config.json`). */
export interface ModelInfo {
  /** `name@version`. */
  id: string;
  name: string;
  version: number;
  task: Task;
  /** Classification labels, in output order. */
  labels?: string[];
  /** Translation language pair. */
  source_lang?: string;
  target_lang?: string;
  /** Maximum tokens per document; longer documents are truncated. */
  maxLength: number;
  /** Absolute path of the version directory. */
  dir: string;
  /** Loader that serves this model (`config.json` `runtime`, e.g. `text-classifier`). */
  runtime?: string;
  /** True when this model is its task's default (used when a batch names no model). */
  default?: boolean;
  /** The parsed `config.json`, for runtime-specific fields. */
  config?: Readonly<Record<string, unknown>>;
  /**
   * A tenant model's row id (`tenant_models.id`, `tmod_...`): the model belongs to one tenant and
   * is stored in Postgres (src/core/models/tenant-models.ts). Absent for the shared models.
   */
  tenantModelId?: string;
}

/** A loaded, ready-to-run model. Implementations dispose every tensor they create. */
export interface TaskModel {
  readonly info: ModelInfo;
  /** Tokenize and truncate one text. Throws DocumentInputError for a text it cannot process (e.g. empty after cleaning). */
  encode(text: string, options: TaskOptions): EncodedDocument;
  /** Run one tensor batch; returns one result per input, in input order. */
  runBatch(batch: EncodedDocument[], options: TaskOptions): Promise<TaskResult[]>;
  /** Release weights and any other tensors. */
  dispose(): void;
}
