import { randomUUID } from 'node:crypto';
import { createBody } from './document-source';
import type { DocumentSource, UploadProgress } from './document-source';
import { ConnectionError, DocBatchError } from './errors';
import { readLineBatches } from './ndjson-lines';
import { readModelDirectory, tarModelFiles, type ModelFiles } from './model-files';
import type { ModelList } from './openapi-types';
import { Paginator } from './paginator';
import { abortReason, backoffDelay, networkErrorCode, sleep, Transport } from './transport';
import type { FetchLike } from './transport';
import * as training from './training-jobs';
import type {
  CreateTrainingJobOptions,
  CreateTrainingJobParams,
  ListTrainingJobsParams,
  TrainingJob,
  WaitForTrainingJobOptions,
} from './training-jobs';
import { TERMINAL_BATCH_STATUSES } from './types';
import { SDK_VERSION } from './version';
import type {
  Batch,
  BatchDeleted,
  Usage,
  BatchStatus,
  CreateBatchFields,
  DocumentRecord,
  ListPage,
  Model,
  ModelDeleted,
  ResultLine,
  ResultStatus,
  TaskResult,
  TrainingJobWebhookDelivery,
  WebhookDelivery,
} from './types';

export interface DocBatchClientOptions {
  /** Server root, e.g. `http://127.0.0.1:3000`. Default: env `DOCBATCH_URL`, else `http://127.0.0.1:3000`. */
  baseUrl?: string;
  /** API key (`dbk_...`). Default: env `DOCBATCH_API_KEY`. */
  apiKey?: string;
  /** fetch implementation. Default: the global fetch of Node 20. */
  fetch?: FetchLike;
  /** Retries after the first attempt on 429/503/502/504 and network errors. Default 4. */
  retries?: number;
  /** First backoff delay, ms (doubles per retry, with jitter). Default 500. */
  minRetryDelayMs?: number;
  /** Largest backoff delay, ms. Default 20,000. */
  maxRetryDelayMs?: number;
  /** Longest `Retry-After` the client waits for by itself, ms; longer ones throw RateLimitError. Default 60,000. */
  maxRetryAfterMs?: number;
}

export interface CreateBatchParams extends CreateBatchFields {
  /** The documents; see DocumentSource for the accepted kinds and how each is sent. */
  documents: DocumentSource;
}

export interface CreateBatchOptions {
  /** Default: a random UUID per call, reused by the call's retries, so a retried create never makes two batches. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Called as the request body is sent (streamed forms only). */
  onUploadProgress?: (progress: UploadProgress) => void;
}

export interface ListBatchesParams {
  status?: BatchStatus;
  /** Page size, 1..100. Default: the server's (20). */
  limit?: number;
  /** Start after this cursor (a `next_cursor`). */
  after?: string;
  signal?: AbortSignal;
}

export interface WaitForBatchOptions {
  signal?: AbortSignal;
  /** Give up after this many ms with a DocBatchError `TIMEOUT`. Default: no limit. */
  timeoutMs?: number;
  /** First poll interval, ms. Default 500. */
  minIntervalMs?: number;
  /** Largest poll interval, ms (the interval grows by 1.5x per poll without progress). Default 5,000. */
  maxIntervalMs?: number;
  /** Called with every polled batch object. */
  onProgress?: (batch: Batch) => void;
}

export interface ResultsParams {
  /** Only results with this status. */
  status?: ResultStatus;
  /** Start after this cursor (an `X-Next-Cursor` value). */
  after?: string;
  /** Lines per request; the iterator follows `X-Next-Cursor` from page to page. Default 5,000. */
  pageSize?: number;
  signal?: AbortSignal;
  /** Resumptions of one page after dropped connections before giving up. Default 10. */
  maxResumes?: number;
}

/**
 * Client of the docbatch HTTP API (v1). Every method throws a DocBatchError subclass with the
 * contract's error `code`; retries with backoff on 429/503 and network errors are built in.
 */
export class DocBatchClient {
  private readonly transport: Transport;

  constructor(options: DocBatchClientOptions = {}) {
    const apiKey = options.apiKey ?? process.env.DOCBATCH_API_KEY;
    if (!apiKey) throw new TypeError('DocBatchClient: apiKey is required (or set DOCBATCH_API_KEY)');
    const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!f) throw new TypeError('DocBatchClient: no fetch implementation (Node >= 20 required)');
    this.transport = new Transport({
      baseUrl: options.baseUrl ?? process.env.DOCBATCH_URL ?? 'http://127.0.0.1:3000',
      apiKey,
      fetch: f,
      retries: options.retries ?? 4,
      minRetryDelayMs: options.minRetryDelayMs ?? 500,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 20_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      userAgent: `docbatch-sdk/${SDK_VERSION} node/${process.versions.node}`,
    });
  }

  get baseUrl(): string {
    return this.transport.options.baseUrl;
  }

  /**
   * Creates a batch. Arrays are sent as the JSON form, everything else streams as NDJSON. The
   * `Idempotency-Key` makes retries safe: the server answers a repeated key with the original batch.
   */
  async createBatch(params: CreateBatchParams, options: CreateBatchOptions = {}): Promise<Batch> {
    const { documents, ...fields } = params;
    const { form, body } = createBody(documents, fields, options.onUploadProgress);
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const query =
      form === 'ndjson'
        ? {
            task: fields.task,
            model: fields.model,
            priority: fields.priority,
            webhook_url: fields.webhook_url,
            completion_window: fields.completion_window,
            options: fields.options === undefined ? undefined : JSON.stringify(fields.options),
            metadata: fields.metadata === undefined ? undefined : JSON.stringify(fields.metadata),
          }
        : undefined;
    return this.transport.json<Batch>({
      method: 'POST',
      path: '/v1/batches',
      query,
      headers: { 'idempotency-key': idempotencyKey },
      body,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  getBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<Batch> {
    return this.transport.json<Batch>({
      method: 'GET',
      path: `/v1/batches/${encodeURIComponent(id)}`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /** One page of batches, newest first. */
  listBatchesPage(params: ListBatchesParams = {}): Promise<ListPage<Batch>> {
    return this.transport.json<ListPage<Batch>>({
      method: 'GET',
      path: '/v1/batches',
      query: { limit: params.limit, after: params.after, status: params.status },
      retry: 'idempotent',
      signal: params.signal,
    });
  }

  /**
   * Batches, newest first: `for await (const page of client.listBatches())` iterates pages;
   * `.items()` iterates batches across pages.
   */
  listBatches(params: ListBatchesParams = {}): Paginator<Batch> {
    return new Paginator<Batch>((after) => this.listBatchesPage({ ...params, after: after ?? params.after }));
  }

  /** Cancels a batch (idempotent); 409 BATCH_FINISHED (ConflictError) when it already ended. */
  cancelBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<Batch> {
    return this.transport.json<Batch>({
      method: 'POST',
      path: `/v1/batches/${encodeURIComponent(id)}/cancel`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /** The batch's webhook deliveries (oldest first), each with every attempt: status code, latency, error. */
  async listWebhookDeliveries(
    batchId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<WebhookDelivery[]> {
    const page = await this.transport.json<{ data: WebhookDelivery[] }>({
      method: 'GET',
      path: `/v1/batches/${encodeURIComponent(batchId)}/webhook_deliveries`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return page.data;
  }

  /**
   * Sends a batch's webhook delivery again with the same `webhook-id` and body as a new attempt series
   * (a pending one waiting for its retry is made due now); resolves with the delivery.
   */
  redeliverWebhook(
    batchId: string,
    deliveryId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<WebhookDelivery> {
    return this.transport.json<WebhookDelivery>({
      method: 'POST',
      path: `/v1/batches/${encodeURIComponent(batchId)}/webhook_deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /**
   * Deletes a finished batch with its documents, results and webhook deliveries; afterwards the
   * batch is `NotFoundError`. A queued, running or cancelling batch is 409 BATCH_NOT_FINISHED
   * (ConflictError): cancel it and wait for `cancelled` first. Retried on network errors (a
   * repeated delete of a deleted batch is NotFoundError).
   */
  deleteBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<BatchDeleted> {
    return this.transport.json<BatchDeleted>({
      method: 'DELETE',
      path: `/v1/batches/${encodeURIComponent(id)}`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /**
   * The tenant's usage (`GET /v1/usage`): batches, documents submitted and processed, input
   * characters and tokens per UTC day (`start`..`end`, inclusive, `YYYY-MM-DD`; default the last 30
   * days) in the buckets of `group_by` (`day`, `task`, `model`; default `['day', 'model']`).
   */
  getUsage(
    params: {
      start?: string;
      end?: string;
      group_by?: ('day' | 'task' | 'model')[];
      signal?: AbortSignal;
    } = {},
  ): Promise<Usage> {
    return this.transport.json<Usage>({
      method: 'GET',
      path: '/v1/usage',
      query: {
        start: params.start,
        end: params.end,
        group_by: params.group_by === undefined ? undefined : params.group_by.join(','),
      },
      retry: 'idempotent',
      signal: params.signal,
    });
  }

  /**
   * Creates a training job: trains a text classifier from labelled examples (`{text, label}`,
   * streamed as NDJSON unless an array) on the server's workers; once `succeeded`, `job.model`
   * (`name@version`) is a model of your tenant that batches can use. Bad examples are a 400
   * InvalidRequestError with 1-based lines in `details`. Not retried once the upload started (no
   * Idempotency-Key on this endpoint).
   */
  createTrainingJob(
    params: CreateTrainingJobParams,
    options: CreateTrainingJobOptions = {},
  ): Promise<TrainingJob> {
    return training.createTrainingJob(this.transport, params, options);
  }

  getTrainingJob(id: string, options: { signal?: AbortSignal } = {}): Promise<TrainingJob> {
    return training.getTrainingJob(this.transport, id, options.signal);
  }

  /** The training job's webhook deliveries (oldest first), each with every attempt. */
  async listTrainingJobWebhookDeliveries(
    id: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<TrainingJobWebhookDelivery[]> {
    const page = await this.transport.json<{ data: TrainingJobWebhookDelivery[] }>({
      method: 'GET',
      path: `/v1/training_jobs/${encodeURIComponent(id)}/webhook_deliveries`,
      retry: 'idempotent',
      signal: options.signal,
    });
    return page.data;
  }

  /** One page of training jobs, newest first. */
  listTrainingJobsPage(params: ListTrainingJobsParams = {}): Promise<ListPage<TrainingJob>> {
    return training.listTrainingJobsPage(this.transport, params);
  }

  /** Training jobs, newest first, across pages (`.items()` iterates jobs). */
  listTrainingJobs(params: ListTrainingJobsParams = {}): Paginator<TrainingJob> {
    return training.listTrainingJobs(this.transport, params);
  }

  /** Cancels a training job (idempotent); 409 TRAINING_JOB_FINISHED (ConflictError) once it succeeded or failed. */
  cancelTrainingJob(id: string, options: { signal?: AbortSignal } = {}): Promise<TrainingJob> {
    return training.cancelTrainingJob(this.transport, id, options.signal);
  }

  /** Polls a training job until it succeeded, failed or was cancelled; `onProgress` sees each poll. */
  waitForTrainingJob(id: string, options: WaitForTrainingJobOptions = {}): Promise<TrainingJob> {
    return training.waitForTrainingJob(this.transport, id, options);
  }

  /** Requeues the batch's failed documents (and expired ones of an expired batch). */
  retryBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<Batch> {
    return this.transport.json<Batch>({
      method: 'POST',
      path: `/v1/batches/${encodeURIComponent(id)}/retry`,
      retry: 'unprocessed',
      signal: options.signal,
    });
  }

  /**
   * Polls the batch until it reaches a terminal status (completed, failed, cancelled, expired) and
   * returns it. The interval starts at `minIntervalMs` and backs off while nothing changes.
   */
  async waitForBatch(id: string, options: WaitForBatchOptions = {}): Promise<Batch> {
    const min = options.minIntervalMs ?? 500;
    const max = options.maxIntervalMs ?? 5_000;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let interval = min;
    let lastFinished = -1;
    for (;;) {
      const batch = await this.getBatch(id, { signal: options.signal });
      options.onProgress?.(batch);
      if (TERMINAL_BATCH_STATUSES.includes(batch.status)) return batch;
      const c = batch.counts;
      const finished = c.completed + c.failed + c.cancelled + c.expired;
      interval = finished !== lastFinished ? min : Math.min(max, interval * 1.5);
      lastFinished = finished;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DocBatchError({
          code: 'TIMEOUT',
          message: `batch ${id} is still ${batch.status} after ${options.timeoutMs} ms`,
        });
      }
      await sleep(Math.min(interval, left), options.signal);
    }
  }

  /**
   * The batch's finished documents in input order, as parsed result lines. Reads NDJSON pages of
   * `pageSize` lines and follows `X-Next-Cursor`; when a connection drops mid-page it requests the
   * same page again and skips the lines it already yielded, so nothing is duplicated or missed.
   * While the batch runs, the iterator ends after the documents finished so far.
   */
  async *results<R = TaskResult>(id: string, params: ResultsParams = {}): AsyncGenerator<ResultLine<R>> {
    for await (const line of this.resultLines(id, params)) yield JSON.parse(line) as ResultLine<R>;
  }

  /** Like `results()` but yields the raw NDJSON lines (without newline), e.g. to write them to a file. */
  async *resultLines(id: string, params: ResultsParams = {}): AsyncGenerator<string> {
    const pageSize = params.pageSize ?? 5_000;
    const maxResumes = params.maxResumes ?? 10;
    const o = this.transport.options;
    let cursor = params.after;
    for (;;) {
      let resumes = 0;
      // One page: request it, and on a dropped connection request it again, skipping what was yielded.
      let lastId: string | undefined;
      let next: string | null = null;
      let lines = 0;
      for (;;) {
        // After a drop, skip this page's lines up to and including the last one yielded.
        let skipping = lastId !== undefined;
        lines = 0;
        try {
          const res = await this.transport.request({
            method: 'GET',
            path: `/v1/batches/${encodeURIComponent(id)}/results`,
            query: { status: params.status, after: cursor, limit: pageSize },
            headers: { accept: 'application/x-ndjson' },
            retry: 'idempotent',
            signal: params.signal,
          });
          next = res.headers.get('x-next-cursor');
          if (!res.body) break;
          for await (const batch of readLineBatches(res.body)) {
            for (const line of batch.lines) {
              if (line.length === 0) continue;
              lines++;
              // A fragment the stream ended on without a newline is a cut line unless it parses.
              const lid = batch.terminated ? lineId(line) : parsedLineId(line);
              if (lid === undefined) throw new Error('truncated result line');
              if (skipping) {
                if (lid === lastId) skipping = false;
                continue;
              }
              lastId = lid;
              yield line;
            }
          }
          break;
        } catch (err) {
          if (params.signal?.aborted) throw abortReason(params.signal);
          if (err instanceof DocBatchError && !(err instanceof ConnectionError)) throw err;
          if (resumes >= maxResumes) {
            throw err instanceof ConnectionError
              ? err
              : new ConnectionError({
                  code: 'CONNECTION_ERROR',
                  message: `results download of ${id} broke ${resumes + 1} times (${networkErrorCode(err) ?? (err as Error).message})`,
                  cause: err,
                });
          }
          await sleep(backoffDelay(resumes, o.minRetryDelayMs, o.maxRetryDelayMs), params.signal);
          resumes++;
        }
      }
      if (!next || lines < pageSize || next === cursor) return;
      cursor = next;
    }
  }

  /** One document with its text, result and error; `docId` is the client id. */
  getDocument<R = TaskResult>(
    batchId: string,
    docId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<DocumentRecord<R>> {
    return this.transport.json<DocumentRecord<R>>({
      method: 'GET',
      path: `/v1/batches/${encodeURIComponent(batchId)}/documents/${encodeURIComponent(docId)}`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /** The models the server can run. */
  async listModels(options: { signal?: AbortSignal } = {}): Promise<Model[]> {
    const list = await this.transport.json<ModelList>({
      method: 'GET',
      path: '/v1/models',
      retry: 'idempotent',
      signal: options.signal,
    });
    return list.data;
  }

  /**
   * Uploads a new version of one of the tenant's models (POST /v1/models): `files` is a directory
   * (every file under it, names starting with `.` left out) or the files by relative path
   * (config.json plus the files it names). Sent as a tar archive. The server checks the files as it
   * checks a MODELS_DIR entry: a refused upload is an InvalidRequestError `INVALID_MODEL` whose
   * `details[0]` names the `file` and `field`; a shared model's name is a ConflictError
   * `MODEL_NAME_TAKEN`. Resolves with the stored version (`owned_by: "tenant"`).
   */
  async uploadModel(
    files: string | ModelFiles,
    options: { name?: string; signal?: AbortSignal } = {},
  ): Promise<Model> {
    const tar = tarModelFiles(typeof files === 'string' ? await readModelDirectory(files) : files);
    return this.transport.json<Model>({
      method: 'POST',
      path: '/v1/models',
      query: { name: options.name },
      body: {
        contentType: 'application/x-tar',
        open: () => new Blob([tar]).stream(),
        canReopen: () => true,
      },
      retry: 'unprocessed',
      signal: options.signal,
    });
  }

  /** One model: `name@version`, or `name` for its latest version (the tenant's own first, then shared). */
  getModel(id: string, options: { signal?: AbortSignal } = {}): Promise<Model> {
    return this.transport.json<Model>({
      method: 'GET',
      path: `/v1/models/${encodeURIComponent(id)}`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }

  /**
   * Deletes one of the tenant's model versions (`name@version`) and its files. A version that a
   * queued, running or cancelling batch runs is a ConflictError `MODEL_IN_USE`; a shared model is
   * an InvalidRequestError `FORBIDDEN`; an unknown one (or another tenant's) NotFoundError.
   */
  deleteModel(id: string, options: { signal?: AbortSignal } = {}): Promise<ModelDeleted> {
    return this.transport.json<ModelDeleted>({
      method: 'DELETE',
      path: `/v1/models/${encodeURIComponent(id)}`,
      retry: 'idempotent',
      signal: options.signal,
    });
  }
}

const ID_PREFIX = '{"id":"';

/**
 * The `id` of a complete result line. The server writes it first, so the text between the prefix
 * and the next quote is the id when it holds no backslash (no escape); otherwise the line is parsed.
 */
function lineId(line: string): string | undefined {
  if (line.startsWith(ID_PREFIX)) {
    const end = line.indexOf('"', ID_PREFIX.length);
    const escape = line.indexOf('\\', ID_PREFIX.length);
    if (end !== -1 && (escape === -1 || escape > end) && line.charCodeAt(end + 1) === 0x2c) {
      return line.slice(ID_PREFIX.length, end);
    }
  }
  return parsedLineId(line);
}

function parsedLineId(line: string): string | undefined {
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
