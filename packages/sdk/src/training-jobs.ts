import { createBody } from './document-source';
import type { DocumentSource, StreamedDocuments, UploadProgress } from './document-source';
import { DocBatchError } from './errors';
import type * as S from './openapi-types';
import { Paginator } from './paginator';
import { sleep } from './transport';
import type { BodySource, Transport } from './transport';
import type { ListPage } from './types';

/**
 * Training jobs (`/v1/training_jobs`): train a text classifier from labelled examples on the
 * server's workers; the result is a new version of one of your tenant's models
 * (`job.model`, `name@version`), usable by `createBatch({model})` at once. The methods are on
 * {@link DocBatchClient}: `createTrainingJob`, `getTrainingJob`, `listTrainingJobs(Page)`,
 * `cancelTrainingJob`, `waitForTrainingJob`.
 */

/** The training job object. */
export type TrainingJob = S.TrainingJob;
export type TrainingJobStatus = S.TrainingJobStatus;
export type TrainingProgress = S.TrainingProgress;
/** One labelled example (one NDJSON line of the upload). */
export type TrainingExample = S.TrainingExample;

/** Statuses a training job ends in. */
export const TERMINAL_TRAINING_JOB_STATUSES: readonly TrainingJobStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
];

/**
 * Where the examples come from: an array (serialized to NDJSON), an NDJSON file path, a Node or web
 * stream of NDJSON bytes, an (async) iterable of examples, or a function returning one of the streamed
 * kinds (called per attempt). Everything but the array streams.
 */
export type TrainingExampleSource =
  | TrainingExample[]
  | string
  | { path: string }
  | NodeJS.ReadableStream
  | ReadableStream<Uint8Array>
  | Iterable<TrainingExample>
  | AsyncIterable<TrainingExample>
  | (() => StreamedDocuments | Iterable<TrainingExample> | AsyncIterable<TrainingExample>);

export interface CreateTrainingJobParams {
  /** Name of the tenant model to create (the job makes its next version). */
  model: string;
  examples: TrainingExampleSource;
  /** Default `embedding-pooling`. */
  recipe?: string;
  /** `epochs`, `validation_split`, `seed`, ... (docs/training.md); the server fills in the rest. */
  hyperparameters?: Record<string, unknown>;
  webhook_url?: string;
}

export interface CreateTrainingJobOptions {
  signal?: AbortSignal;
  /** Called as the upload is sent (`documents` counts examples). */
  onUploadProgress?: (progress: UploadProgress) => void;
}

export interface ListTrainingJobsParams {
  status?: TrainingJobStatus;
  limit?: number;
  after?: string;
  signal?: AbortSignal;
}

export interface WaitForTrainingJobOptions {
  signal?: AbortSignal;
  /** Give up after this many ms with a DocBatchError `TIMEOUT`. Default: no limit. */
  timeoutMs?: number;
  /** Poll interval, ms. Default 1000. */
  intervalMs?: number;
  /** Called with every polled job. */
  onProgress?: (job: TrainingJob) => void;
}

function examplesBody(src: TrainingExampleSource, onProgress?: (p: UploadProgress) => void): BodySource {
  if (Array.isArray(src)) {
    const ndjson = src.map((e) => JSON.stringify({ text: e.text, label: e.label })).join('\n') + '\n';
    onProgress?.({ bytes: Buffer.byteLength(ndjson), documents: src.length });
    return { contentType: 'application/x-ndjson', open: () => ndjson, canReopen: () => true };
  }
  // The streamed kinds are sent exactly as the NDJSON form of a batch (an example is a JSON object per line).
  return createBody(src as unknown as DocumentSource, {}, onProgress).body;
}

export function createTrainingJob(
  transport: Transport,
  params: CreateTrainingJobParams,
  options: CreateTrainingJobOptions = {},
): Promise<TrainingJob> {
  return transport.json<TrainingJob>({
    method: 'POST',
    path: '/v1/training_jobs',
    query: {
      model: params.model,
      recipe: params.recipe,
      hyperparameters:
        params.hyperparameters === undefined ? undefined : JSON.stringify(params.hyperparameters),
      webhook_url: params.webhook_url,
    },
    body: examplesBody(params.examples, options.onUploadProgress),
    // No Idempotency-Key on this endpoint: resent only when the server certainly did not act on it.
    retry: 'unprocessed',
    signal: options.signal,
  });
}

export function getTrainingJob(transport: Transport, id: string, signal?: AbortSignal): Promise<TrainingJob> {
  return transport.json<TrainingJob>({
    method: 'GET',
    path: `/v1/training_jobs/${encodeURIComponent(id)}`,
    retry: 'idempotent',
    signal,
  });
}

export function listTrainingJobsPage(
  transport: Transport,
  params: ListTrainingJobsParams = {},
): Promise<ListPage<TrainingJob>> {
  return transport.json<ListPage<TrainingJob>>({
    method: 'GET',
    path: '/v1/training_jobs',
    query: { limit: params.limit, after: params.after, status: params.status },
    retry: 'idempotent',
    signal: params.signal,
  });
}

export function listTrainingJobs(
  transport: Transport,
  params: ListTrainingJobsParams = {},
): Paginator<TrainingJob> {
  return new Paginator<TrainingJob>((after) =>
    listTrainingJobsPage(transport, { ...params, after: after ?? params.after }),
  );
}

export function cancelTrainingJob(
  transport: Transport,
  id: string,
  signal?: AbortSignal,
): Promise<TrainingJob> {
  return transport.json<TrainingJob>({
    method: 'POST',
    path: `/v1/training_jobs/${encodeURIComponent(id)}/cancel`,
    retry: 'idempotent',
    signal,
  });
}

export async function waitForTrainingJob(
  transport: Transport,
  id: string,
  options: WaitForTrainingJobOptions = {},
): Promise<TrainingJob> {
  const interval = options.intervalMs ?? 1_000;
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  for (;;) {
    const job = await getTrainingJob(transport, id, options.signal);
    options.onProgress?.(job);
    if (TERMINAL_TRAINING_JOB_STATUSES.includes(job.status)) return job;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new DocBatchError({
        code: 'TIMEOUT',
        message: `training job ${id} is still ${job.status} after ${options.timeoutMs} ms`,
      });
    }
    await sleep(Math.min(interval, left), options.signal);
  }
}
