import type { ApiConfig } from '../config';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { QueueSet } from '../queue/queues';
import type { SubmissionLimiter } from '../tenants/submission-limits';
import type { ModelCatalog } from './model-catalog';
import type { IngestThreadPool } from './ingest-threads';
import type { UploadSlots } from './upload-slots';

/** Limits and tunables of the batch domain (from config; see the README configuration table). */
export interface BatchSettings {
  /** `MAX_DOCS_PER_BATCH`. */
  maxDocsPerBatch: number;
  /** `MAX_DOC_CHARS`. */
  maxDocChars: number;
  /** `CHUNK_SIZE`. */
  chunkSize: number;
  /** `CHUNK_ATTEMPTS`. */
  chunkAttempts: number;
  /** `IDEMPOTENCY_TTL_HOURS`. */
  idempotencyTtlHours: number;
  /** `WEBHOOK_ALLOWLIST`. */
  webhookAllowlist: readonly string[];
}

/** What the batch operations use. The API, the dashboard and the CLI build one of these. */
export interface BatchDeps {
  db: Database;
  queues: QueueSet;
  models: ModelCatalog;
  logger: Logger;
  /** Submission limits; when absent (CLI, admin tools) no rate limit or active cap applies. */
  limiter?: SubmissionLimiter;
  /** Bound on concurrent uploads of this process; when absent, unbounded. */
  uploadSlots?: UploadSlots;
  /** Threads that parse and check streamed uploads (`INGEST_THREADS`); when absent, this thread does. */
  ingestThreads?: IngestThreadPool;
  settings: BatchSettings;
}

export function batchSettingsFrom(config: ApiConfig): BatchSettings {
  return {
    maxDocsPerBatch: config.MAX_DOCS_PER_BATCH,
    maxDocChars: config.MAX_DOC_CHARS,
    chunkSize: config.CHUNK_SIZE,
    chunkAttempts: config.CHUNK_ATTEMPTS,
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    webhookAllowlist: config.WEBHOOK_ALLOWLIST,
  };
}
