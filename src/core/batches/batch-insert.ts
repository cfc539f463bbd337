import { AppError } from '../errors';
import { BATCH_COLUMNS } from './batch-object';
import type { BatchRow } from './batch-object';
import type { ResolvedBatchParams } from './batch-params';
import type { DocumentColumns } from './document-validator';

/**
 * The statement that creates a batch, shared by both ingest paths. In one round trip it claims the
 * request's Idempotency-Key (inserts it, or takes over a row older than the TTL; a live row makes
 * the statement insert nothing: its primary key (tenant_id, key) makes a concurrent identical
 * request wait for the first one's transaction, then find the key taken) and inserts the batch
 * row. With `documents` (a small batch, validated in memory) it also inserts the documents, with
 * the batch's counts, chunk count and request hash set: the whole batch in one statement.
 */

/** The ingest transaction's outcome. */
export type IngestOutcome = { kind: 'created'; row: BatchRow } | { kind: 'key-taken' };

export interface BatchInsert {
  batchId: string;
  tenantId: string;
  params: ResolvedBatchParams;
  idempotencyKey?: string;
  idempotencyTtlHours: number;
  /** Every document of the batch (absent: they follow through COPY, and the counts are set after). */
  documents?: {
    columns: DocumentColumns;
    /** The request hash (`DocumentSource.digest()`). */
    requestHash: string;
    chunkCount: number;
  };
}

/** The statement and its values; it returns the batch row, or no row when the key is taken. */
export function batchInsertStatement(b: BatchInsert): { text: string; values: unknown[] } {
  const docs = b.documents;
  const total = docs ? docs.columns.seq.length : 0;
  const values: unknown[] = [
    b.batchId,
    b.tenantId,
    b.params.task,
    b.params.model,
    JSON.stringify(b.params.options),
    JSON.stringify(b.params.metadata),
    b.params.priority,
    b.params.webhookUrl,
    b.params.completionWindow,
    b.params.completionWindowSeconds,
    b.idempotencyKey ?? null,
    b.idempotencyTtlHours,
    docs?.requestHash ?? '',
    total,
    docs?.chunkCount ?? 0,
    b.params.tenantModelId,
  ];
  let documents = '';
  if (docs) {
    values.push(docs.columns.seq, docs.columns.clientId, docs.columns.text, docs.columns.metadata);
    documents = `, documents AS (
         INSERT INTO documents (batch_id, seq, client_id, text, metadata)
         SELECT batch.id, d.seq, d.client_id, d.text, d.metadata
           FROM batch, unnest($17::int[], $18::text[], $19::text[], $20::jsonb[]) AS d (seq, client_id, text, metadata)
       )`;
  }
  const text = `WITH claimed AS (
       INSERT INTO idempotency_keys (tenant_id, key, request_hash, batch_id)
       SELECT $2::text, $11::text, $13::text, $1::text WHERE $11::text IS NOT NULL
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, batch_id = EXCLUDED.batch_id, created_at = now()
         WHERE idempotency_keys.created_at <= now() - make_interval(hours => $12::int)
       RETURNING 1
     ), batch AS (
       INSERT INTO batches (id, tenant_id, task, model, options, metadata, priority, webhook_url, status,
         completion_window, expires_at, total, queued_count, chunk_count, tenant_model_id)
       SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::jsonb, $7::int, $8::text,
              'queued'::"BatchStatus", $9::text, now() + make_interval(secs => $10::float8),
              $14::int, $14::int, $15::int, $16::text
        WHERE $11::text IS NULL OR EXISTS (SELECT 1 FROM claimed)
       RETURNING ${BATCH_COLUMNS}
     )${documents}
     SELECT ${BATCH_COLUMNS} FROM batch`;
  return { text, values };
}

/** A batch needs at least one document. */
export function noDocumentsError(): AppError {
  return new AppError('INVALID_REQUEST', 'The batch has no documents.', [
    { field: 'documents', message: 'must contain at least one document' },
  ]);
}

/** The database's backstop for duplicate ids (the validator finds them first): 23505 -> DUPLICATE_DOCUMENT_ID. */
export function duplicateIdBackstop(err: unknown): unknown {
  if ((err as { code?: string }).code === '23505') {
    return new AppError(
      'DUPLICATE_DOCUMENT_ID',
      'Two documents of the batch have the same id; nothing was stored.',
    );
  }
  return err;
}
