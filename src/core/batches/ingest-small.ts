import type { SqlClient } from '../db/queryable';
import { newId } from '../ids';
import type { BatchDeps } from './batch-deps';
import { submissionUsageSql } from '../usage/usage-record';
import { batchInsertStatement, duplicateIdBackstop, noDocumentsError } from './batch-insert';
import type { IngestOutcome } from './batch-insert';
import type { BatchRow } from './batch-object';
import type { ResolvedBatchParams } from './batch-params';
import type { DocumentSource } from './document-source';
import { DocumentValidator } from './document-validator';
import type { DocumentColumns } from './document-validator';

/**
 * The ingest path of small in-memory batches: a JSON body of at most `SMALL_BATCH_MAX_DOCS`
 * documents and `SMALL_BATCH_MAX_BYTES`. Its documents are validated before any database work;
 * then the transaction is three round trips: BEGIN, one statement that claims the key and inserts
 * the batch and its documents (`batchInsertStatement`), and the cap check with COMMIT
 * (`SubmissionLimiter.commitBelowCap`). The COPY path needs six (BEGIN, insert, COPY start, COPY
 * end, counts, commit).
 *
 * Such an upload takes no upload slot: the slots keep long, client-paced COPY transactions from
 * taking every pooled connection, and this transaction is neither (it holds its connection for
 * three statements, like a read). Under many concurrent small submissions the slot queue was the
 * largest part of their latency (docs/reliability.md).
 */

/** Largest document count of the small-batch path. */
export const SMALL_BATCH_MAX_DOCS = 1_000;
/** Largest JSON body of the small-batch path, bytes (1 MiB). */
export const SMALL_BATCH_MAX_BYTES = 1024 * 1024;

/** True when the documents take the small-batch path: an in-memory body within both bounds. */
export function isSmallBatch(documents: DocumentSource): boolean {
  const size = documents.size;
  return size !== undefined && size.items <= SMALL_BATCH_MAX_DOCS && size.bytes <= SMALL_BATCH_MAX_BYTES;
}

/** Validates every document, then creates the batch in one transaction of three round trips. */
export async function ingestSmall(
  deps: BatchDeps,
  input: {
    tenantId: string;
    documents: DocumentSource;
    idempotencyKey?: string;
    beforeCommit?: (client: SqlClient, batch: BatchRow) => Promise<void>;
  },
  params: ResolvedBatchParams,
): Promise<IngestOutcome> {
  const { db, settings } = deps;
  const batchId = newId('bat');
  const validator = new DocumentValidator({
    batchId,
    maxDocChars: settings.maxDocChars,
    maxDocs: settings.maxDocsPerBatch,
  });
  const columns: DocumentColumns = { seq: [], clientId: [], text: [], metadata: [] };
  for await (const items of input.documents) validator.acceptColumns(items, columns);
  const invalid = validator.result();
  if (invalid) throw invalid;
  if (validator.count === 0) throw noDocumentsError();

  const client = await db.pool.connect();
  // A connection cut while checked out must fail this request, not crash the process.
  const onClientError = (): void => undefined;
  client.on('error', onClientError);
  try {
    await client.query('BEGIN');
    const res = await client.query<BatchRow>(
      batchInsertStatement({
        batchId,
        tenantId: input.tenantId,
        params,
        idempotencyKey: input.idempotencyKey,
        idempotencyTtlHours: settings.idempotencyTtlHours,
        documents: {
          columns,
          requestHash: input.documents.digest(),
          chunkCount: Math.ceil(validator.count / settings.chunkSize),
        },
      }),
    );
    const row = res.rows[0];
    if (row && input.beforeCommit) await input.beforeCommit(client, row);
    if (row && deps.limiter)
      await deps.limiter.commitBelowCap(client, input.tenantId, submissionUsageSql(row.id));
    else await client.query(row ? `${submissionUsageSql(row.id)};\nCOMMIT` : 'ROLLBACK');
    client.off('error', onClientError);
    client.release();
    return row ? { kind: 'created', row } : { kind: 'key-taken' };
  } catch (err) {
    // Discarding the connection rolls the transaction back at once (the listener stays: the
    // discarded connection may still report the cut).
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw duplicateIdBackstop(err);
  }
}
