import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { findBatchRow, notFound } from './batch-queries';
import type { ListPage } from './batch-queries';
import { decodeResultCursor, encodeResultCursor } from './cursors';

/**
 * Results of a batch: finished documents (completed, failed, cancelled, expired) in input order,
 * read in keyset pages over (batch_id, seq), so no listing ever holds a whole batch in memory.
 * JSON pages are read here; the NDJSON stream is in result-stream.ts.
 */

export const RESULT_STATUSES = ['completed', 'failed', 'cancelled', 'expired'] as const;
export type ResultStatus = (typeof RESULT_STATUSES)[number];

/** One line of the results (NDJSON) or one element of a results page. */
export interface ResultLine {
  id: string;
  status: ResultStatus;
  result: unknown;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown> | null;
}

/** One document with its text. */
export interface DocumentObject {
  id: string;
  status: 'queued' | 'running' | ResultStatus;
  text: string;
  result: unknown;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown> | null;
}

export interface ResultQuery {
  /** Only these statuses (default: every finished status). */
  statuses?: ResultStatus[];
  /** Cursor from `X-Next-Cursor` / `next_cursor`. */
  after?: string;
}

/** A resolved results query: position and status filter. */
export interface ResultScan {
  batchId: string;
  afterSeq: number;
  statuses: ResultStatus[];
}

interface ResultRow {
  seq: number;
  client_id: string;
  status: ResultStatus;
  result: unknown;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown> | null;
}

/** Parses a `status` query value (one status or a comma-separated list). */
export function parseResultStatuses(value: string | undefined): ResultStatus[] | undefined {
  if (value === undefined || value === '') return undefined;
  const parts = value.split(',').map((s) => s.trim());
  for (const p of parts) {
    if (!(RESULT_STATUSES as readonly string[]).includes(p)) {
      throw new AppError('INVALID_REQUEST', `status must be one or more of ${RESULT_STATUSES.join(', ')}.`, [
        {
          field: 'status',
          message: `must be one or more of ${RESULT_STATUSES.join(', ')} (comma-separated)`,
        },
      ]);
    }
  }
  return [...new Set(parts)] as ResultStatus[];
}

/**
 * The status filter of a results read, for parameter `$2`. One status is an equality, so the
 * (batch_id, status, seq) index returns that status's rows already in seq order; `= ANY` over a
 * one-element array would not (Postgres then reads them all and sorts, or scans every finished row
 * of the batch in seq order to pick them out). Several statuses scan the primary key in seq order.
 */
export function resultStatusCondition(statuses: readonly ResultStatus[]): { sql: string; param: unknown } {
  if (statuses.length === 1) return { sql: 'status = $2::"DocumentStatus"', param: statuses[0] };
  return { sql: 'status = ANY($2::"DocumentStatus"[])', param: statuses };
}

/** Checks the batch belongs to the tenant and resolves the query; 404 / 400 otherwise. */
export async function openResults(
  q: Queryable,
  tenantId: string,
  batchId: string,
  query: ResultQuery,
): Promise<ResultScan> {
  const afterSeq = query.after ? decodeResultCursor(query.after, batchId) : 0;
  const exists = await q.query(
    'SELECT 1 FROM batches WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL',
    [batchId, tenantId],
  );
  if (exists.rowCount === 0) throw notFound(batchId);
  return { batchId, afterSeq, statuses: query.statuses ?? [...RESULT_STATUSES] };
}

function toLine(r: ResultRow): ResultLine {
  return {
    id: r.client_id,
    status: r.status,
    result: r.result ?? null,
    error: r.error ?? null,
    metadata: r.metadata ?? null,
  };
}

/**
 * Reads up to `limit` result rows with seq > `afterSeq` and seq <= `maxSeq` (when given).
 * Returns the lines and the seq of the last one.
 */
export async function readResultRows(
  q: Queryable,
  scan: ResultScan,
  afterSeq: number,
  limit: number,
  maxSeq?: number,
): Promise<{ lines: ResultLine[]; seqs: number[]; lastSeq: number | null }> {
  const status = resultStatusCondition(scan.statuses);
  const params: unknown[] = [scan.batchId, status.param, afterSeq, limit];
  let bound = '';
  if (maxSeq !== undefined) {
    params.push(maxSeq);
    bound = ' AND seq <= $5';
  }
  const res = await q.query<ResultRow>(
    `SELECT seq, client_id, status, result, error, metadata FROM documents
      WHERE batch_id = $1 AND ${status.sql} AND seq > $3${bound}
      ORDER BY seq LIMIT $4`,
    params,
  );
  const last = res.rows[res.rows.length - 1];
  return { lines: res.rows.map(toLine), seqs: res.rows.map((r) => r.seq), lastSeq: last ? last.seq : null };
}

/** One JSON page of results (`limit` 1..1000). */
export async function resultsPage(
  q: Queryable,
  scan: ResultScan,
  limit: number,
): Promise<ListPage<ResultLine>> {
  const { lines, seqs } = await readResultRows(q, scan, scan.afterSeq, limit + 1);
  const hasMore = lines.length > limit;
  const lastSeq = seqs[limit - 1];
  return {
    object: 'list',
    data: lines.slice(0, limit),
    has_more: hasMore,
    next_cursor: hasMore && lastSeq !== undefined ? encodeResultCursor(lastSeq, scan.batchId) : null,
  };
}

/** One document of a tenant's batch by client id (404 when the batch or the document is unknown). */
export async function getDocument(
  q: Queryable,
  tenantId: string,
  batchId: string,
  docId: string,
): Promise<DocumentObject> {
  const batch = await findBatchRow(q, tenantId, batchId);
  if (!batch) throw notFound(batchId);
  const res = await q.query<{
    client_id: string;
    status: DocumentObject['status'];
    text: string;
    result: unknown;
    error: DocumentObject['error'];
    metadata: DocumentObject['metadata'];
  }>(
    `SELECT client_id, status, text, result, error, metadata FROM documents WHERE batch_id = $1 AND client_id = $2`,
    [batchId, docId],
  );
  const r = res.rows[0];
  if (!r) throw new AppError('NOT_FOUND', `Batch ${batchId} has no document ${JSON.stringify(docId)}.`);
  return {
    id: r.client_id,
    status: r.status,
    text: r.text,
    result: r.result ?? null,
    error: r.error ?? null,
    metadata: r.metadata ?? null,
  };
}
