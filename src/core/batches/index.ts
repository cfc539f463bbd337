/**
 * The batch domain: the operations the HTTP API, the ops dashboard and the CLI share.
 *
 * Terminology: a **batch** is one submission of documents for one task and model; a **document**
 * is one input text (its `seq` is its 1-based input position, its `id` the client's id); a
 * **chunk** is a contiguous `seq` range processed by one **chunk job** on BullMQ.
 */
export { batchSettingsFrom } from './batch-deps';
export type { BatchDeps, BatchSettings } from './batch-deps';
export {
  ACTIVE_BATCH_STATUSES,
  BATCH_STATUSES,
  FINISHED_BATCH_STATUSES,
  setRetentionDays,
  toBatchObject,
} from './batch-object';
export type { BatchCounts, BatchObject, BatchRow, BatchStatus } from './batch-object';
export {
  DEFAULT_COMPLETION_WINDOW,
  MAX_COMPLETION_WINDOW_S,
  MIN_COMPLETION_WINDOW_S,
  batchFieldsFromQuery,
  parseCompletionWindow,
  resolveBatchParams,
} from './batch-params';
export type { ResolvedBatchParams } from './batch-params';
export { findBatchRow, getBatch, listBatches } from './batch-queries';
export type { ListBatchesOptions, ListPage } from './batch-queries';
export { cancelBatch } from './cancel-batch';
export { DELETE_INLINE_BUDGET_MS, deleteBatch } from './delete-batch';
export type { DeletedBatch } from './delete-batch';
export { PURGE_CHUNK_DOCUMENTS, markedBatches, purgeBatch } from './purge-batch';
export type { PurgeOptions, PurgeOutcome } from './purge-batch';
export { decodeBatchCursor, decodeResultCursor, encodeBatchCursor, encodeResultCursor } from './cursors';
export { assertIdempotencyKey, createBatch } from './create-batch';
export type { CreateBatchInput, CreateBatchResult } from './create-batch';
export { arraySource, ndjsonSource } from './document-source';
export type { DocumentItem, DocumentSource, NdjsonSourceOptions } from './document-source';
export { DocumentValidator, MAX_CLIENT_ID_CHARS, MAX_ERROR_DETAILS, copyEscape } from './document-validator';
export { END_EVENTS, failBatch, finalizeBatchIfDone } from './finalize';
export { IngestThreadPool } from './ingest-threads';
export { batchesCreated, documentsIngested, ingestSeconds, uploadsRejected } from './ingest-metrics';
export type { EndStatus, FinalizedBatch } from './finalize';
export type { ModelCatalog } from './model-catalog';
export {
  RESULT_STATUSES,
  getDocument,
  openResults,
  parseResultStatuses,
  readResultRows,
  resultsPage,
} from './results';
export type { DocumentObject, ResultLine, ResultQuery, ResultScan, ResultStatus } from './results';
export { openResultStream } from './result-stream';
export type { ChunkWriter, ResultStream } from './result-stream';
export { retryBatch } from './retry-batch';
export { batchesDeleted, documentsPurged, markRetentionExpired, retentionSweep } from './retention';
export type { RetentionSweepOptions, RetentionSweepResult } from './retention';
export { UploadSlots } from './upload-slots';
