import type * as S from './openapi-types';

/**
 * The SDK's public types. Wire types are the contract's: they are aliases of the types generated
 * from openapi/openapi.json (openapi-types.ts, `npm run sdk:types`; a unit test fails when
 * the generated file is stale), with a type parameter for the task result where useful.
 *
 * Terminology: a **batch** is one submission of documents for one task and model; a
 * **document** is one input text (`id`, `text`, `metadata`); a **result line** is one finished
 * document as the results endpoint returns it.
 */

export type Task = S.Task;
export type BatchStatus = S.BatchStatus;
export type DocumentStatus = S.DocumentStatus;
/** Statuses a result line can have (only finished documents are results). */
export type ResultStatus = S.ResultStatus;
export type BatchCounts = S.BatchCounts;
/** The batch object. */
export type Batch = S.Batch;
/** One document as submitted. */
export type DocumentInput = S.DocumentInput;
export type ResultError = S.DocumentError;
export type ClassificationResult = S.ClassificationResult;
export type SummarizationResult = S.SummarizationResult;
export type TranslationResult = S.TranslationResult;
export type TaskResult = S.TaskResult;
export type BatchOptions = S.BatchOptions;
/** `GET /v1/usage`: buckets per UTC day, task and model, and totals. */
export type Usage = S.Usage;
export type UsageBucket = S.UsageBucket;
export type UsageCounters = S.UsageCounters;
/** The answer of `DELETE /v1/batches/{id}`. */
export type BatchDeleted = S.BatchDeleted;
/** One model from `GET /v1/models` (`owned_by`: `system` shared, `tenant` the caller's own). */
export type Model = S.Model;
/** The answer of `DELETE /v1/models/{id}`. */
export type ModelDeleted = S.ModelDeleted;

/** Admin API objects (`/admin/api/...`, with the server's ADMIN_TOKEN): tenants, API keys, webhook secrets. */
export type Tenant = S.Tenant;
export type CreatedTenant = S.CreatedTenant;
export type TenantList = S.TenantList;
export type ApiKey = S.ApiKey;
export type CreatedApiKey = S.CreatedApiKey;
export type RevokedKey = S.RevokedKey;
export type WebhookSecret = S.WebhookSecret;

/** A webhook delivery of a batch's end event with its attempts (`GET /v1/batches/{id}/webhook_deliveries`). */
export type WebhookDelivery = S.WebhookDelivery;
export type WebhookAttempt = S.WebhookAttempt;
/** A webhook delivery of a training job's end event (`GET /v1/training_jobs/{id}/webhook_deliveries`). */
export type TrainingJobWebhookDelivery = S.TrainingJobWebhookDelivery;

/** Statuses a batch does not leave by itself (waitForBatch stops on these). */
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
];

/** A page of a list endpoint (`BatchList`, `ResultList`, `ModelList` in the contract). */
export type ListPage<T> = Omit<S.BatchList, 'data'> & { data: T[] };

/** One finished document from the results endpoint; `R` narrows the task result. */
export type ResultLine<R = TaskResult> = Omit<S.ResultLine, 'result'> & { result: R | null };

/** One document from `GET /v1/batches/{id}/documents/{doc_id}`. */
export type DocumentRecord<R = TaskResult> = Omit<S.Document, 'result'> & { result: R | null };

/** Batch fields of a create request (everything but the documents). */
export type CreateBatchFields = Omit<S.CreateBatchRequest, 'documents' | 'task' | 'options'> & {
  task: Task;
  /** Task options (`top_k`; `max_sentences`, `ratio`; `source_lang`, `target_lang`). */
  options?: BatchOptions | Record<string, unknown>;
};
