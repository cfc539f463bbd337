/**
 * The docbatch TypeScript SDK: `import { DocBatchClient } from '@docbatch/sdk'`.
 *
 * ```ts
 * const client = new DocBatchClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.DOCBATCH_API_KEY });
 * const batch = await client.createBatch({ task: 'classification', documents: 'emails.ndjson' });
 * await client.waitForBatch(batch.id, { onProgress: (b) => console.log(b.counts) });
 * for await (const r of client.results(batch.id)) console.log(r.id, r.result);
 * ```
 */
export { DocBatchClient } from './client';
export type {
  CreateBatchOptions,
  CreateBatchParams,
  DocBatchClientOptions,
  ListBatchesParams,
  ResultsParams,
  WaitForBatchOptions,
} from './client';
export type { DocumentSource, StreamedDocuments, UploadProgress } from './document-source';
export { readModelDirectory, tarModelFiles } from './model-files';
export type { ModelFiles } from './model-files';
export {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  DocBatchError,
  InvalidRequestError,
  NotFoundError,
  RateLimitError,
  ServerError,
  errorFromResponse,
  isApiErrorCode,
} from './errors';
export type { ApiErrorCode, ClientErrorCode, DocBatchErrorCode, DocBatchErrorDetail } from './errors';
export { Paginator } from './paginator';
export { TERMINAL_TRAINING_JOB_STATUSES } from './training-jobs';
export type {
  CreateTrainingJobOptions,
  CreateTrainingJobParams,
  ListTrainingJobsParams,
  TrainingExample,
  TrainingExampleSource,
  TrainingJob,
  TrainingJobStatus,
  TrainingProgress,
  WaitForTrainingJobOptions,
} from './training-jobs';
export type { FetchLike } from './transport';
export { TERMINAL_BATCH_STATUSES } from './types';
export type * from './types';
export {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from './webhook-signature';
export type { VerifyOptions as VerifyWebhookOptions, WebhookHeaders } from './webhook-signature';
export { SDK_VERSION } from './version';
