/**
 * The contract's wire types (snake_case, exactly as the API sends them) and the SDK's own option
 * types. The wire types are checked against the OpenAPI document's component schemas by
 * test/unit/sdk-types.test.ts, so they cannot drift from the server.
 *
 * Terminology: a **batch** is one submission of documents for one task and model; a
 * **document** is one input text (`id`, `text`, `metadata`); a **result line** is one finished
 * document as the results endpoint returns it.
 */

export type Task = 'classification' | 'summarization' | 'translation';

export type BatchStatus =
  'queued' | 'running' | 'completed' | 'failed' | 'cancelling' | 'cancelled' | 'expired';

/** Statuses a batch does not leave by itself (waitForBatch stops on these). */
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
];

export type DocumentStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'expired';

/** Statuses a result line can have (only finished documents are results). */
export type ResultStatus = 'completed' | 'failed' | 'cancelled' | 'expired';

export interface BatchCounts {
  total: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  expired: number;
}

/** The batch object. */
export interface Batch {
  /** `bat_...`. */
  id: string;
  object: 'batch';
  task: Task;
  /** Resolved model, `name@version`. */
  model: string;
  status: BatchStatus;
  counts: BatchCounts;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** 1 (highest) to 10. */
  priority: number;
  webhook_url: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string;
  /** Finished documents per second since the batch started; null before it starts. */
  throughput_docs_per_s: number | null;
  /** Estimated seconds until every document is finished; null when unknown. */
  eta_s: number | null;
}

/** A page of a list endpoint. */
export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  /** Pass as `after` to get the next page; null on the last page. */
  next_cursor: string | null;
}

/** One document as submitted. */
export interface DocumentInput {
  /** Client id, unique within the batch, at most 128 characters; default: its 1-based position. */
  id?: string;
  /** Required, non-empty, at most MAX_DOC_CHARS (default 100,000) characters. */
  text: string;
  /** Returned with the result. */
  metadata?: Record<string, unknown>;
}

export interface ResultError {
  code: string;
  message: string;
}

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

/** One finished document from the results endpoint. */
export interface ResultLine<R = TaskResult> {
  id: string;
  status: ResultStatus;
  result: R | null;
  error: ResultError | null;
  metadata: Record<string, unknown> | null;
}

/** One document from `GET /v1/batches/{id}/documents/{doc_id}`. */
export interface DocumentRecord<R = TaskResult> {
  id: string;
  status: DocumentStatus;
  text: string;
  result: R | null;
  error: ResultError | null;
  metadata: Record<string, unknown> | null;
}

/** One model from `GET /v1/models`. */
export interface Model {
  /** `name@version`. */
  id: string;
  task: Task;
  /** Classification labels in output order. */
  labels?: string[];
  /** TensorFlow.js backend serving it (e.g. `wasm`). */
  backend: string;
  /** True for the model a batch of its task gets when it names none. */
  default: boolean;
}

/** Batch fields of a create request (everything but the documents). */
export interface CreateBatchFields {
  task: Task;
  /** `name` or `name@version`; default: the task's default model. */
  model?: string;
  /** Task options (see the contract: `top_k`, `max_sentences`, `ratio`, `source_lang`, `target_lang`). */
  options?: Record<string, unknown>;
  /** At most 16 keys. */
  metadata?: Record<string, unknown>;
  /** http(s) URL the server POSTs the signed end event to. */
  webhook_url?: string;
  /** 1 (highest) to 10; default 5. */
  priority?: number;
  /** e.g. `1h`, `24h`; default `24h`. */
  completion_window?: string;
}
