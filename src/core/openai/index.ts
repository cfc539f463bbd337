/**
 * The OpenAI-compatible Batch API (`/openai/v1`): the Files API over files stored in Postgres and the
 * Batches API over docbatch batches. See docs/openai-compatibility.md.
 */
export { createOpenAiBatch, cancelOpenAiBatch, getOpenAiBatch, listOpenAiBatches } from './openai-batches';
export { OPENAI_BATCH_STATUSES, toOpenAiBatch } from './openai-batch-object';
export type { OpenAiBatchObject, OpenAiBatchStatus } from './openai-batch-object';
export { FileUpload, deleteFile, getFile, listFiles, readFileBytes } from './file-store';
export type { ListFilesOptions, OpenAiFileObject, OpenAiFilePurpose, OpenAiList } from './file-store';
export { OpenAiError, toOpenAiErrorBody } from './openai-error';
export type { OpenAiErrorBody } from './openai-error';
export { OPENAI_ENDPOINTS, RESPONSE_OBJECTS } from './request-lines';
export type { BatchLineError } from './request-lines';
export { openAiRetentionSweep } from './openai-retention';
export type { OpenAiRetentionResult } from './openai-retention';
