import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { findBatchRow, notFound } from './batch-queries';
import type { ListPage } from './batch-queries';
import { decodeResultCursor, encodeResultCursor } from './cursors';

/**
 * Results of a batch: finished documents (completed, failed, cancelled, expired) in input order,
 * read in keyset pages over (batch_id, seq), so no listing ever holds a whole batch in memory.
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

/** Checks the batch belongs to the tenant and resolves the query; 404 / 400 otherwise. */
export async function openResults(
  q: Queryable,
  tenantId: string,
  batchId: string,
  query: ResultQuery,
): Promise<ResultScan> {
  const afterSeq = query.after ? decodeResultCursor(query.after) : 0;
  const exists = await q.query('SELECT 1 FROM batches WHERE id = $1 AND tenant_id = $2', [batchId, tenantId]);
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
  const params: unknown[] = [scan.batchId, scan.statuses, afterSeq, limit];
  let bound = '';
  if (maxSeq !== undefined) {
    params.push(maxSeq);
    bound = ' AND seq <= $5';
  }
  const res = await q.query<ResultRow>(
    `SELECT seq, client_id, status, result, error, metadata FROM documents
      WHERE batch_id = $1 AND status = ANY($2::"DocumentStatus"[]) AND seq > $3${bound}
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
    next_cursor: hasMore && lastSeq !== undefined ? encodeResultCursor(lastSeq) : null,
  };
}

/**
 * The seq of the `limit`-th result after `scan.afterSeq`, when at least one more result follows it
 * (so a next page exists); else null. Used to bound a limited NDJSON stream and to set its cursor.
 */
export async function boundarySeq(q: Queryable, scan: ResultScan, limit: number): Promise<number | null> {
  const res = await q.query<{ seq: number }>(
    `SELECT seq FROM documents
      WHERE batch_id = $1 AND status = ANY($2::"DocumentStatus"[]) AND seq > $3
      ORDER BY seq OFFSET $4 LIMIT 2`,
    [scan.batchId, scan.statuses, scan.afterSeq, limit - 1],
  );
  return res.rows.length === 2 ? (res.rows[0] as { seq: number }).seq : null;
}

/**
 * Streams results in pages of `pageSize` through `write` (which resolves when the consumer can take
 * more: backpressure), up to `maxSeq` when given. Returns the number of lines written.
 */
export async function streamResults(
  q: Queryable,
  scan: ResultScan,
  write: (chunk: string) => Promise<void>,
  opts: { maxSeq?: number; maxLines?: number; pageSize?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const pageSize = opts.pageSize ?? 1_000;
  const maxLines = opts.maxLines ?? Number.MAX_SAFE_INTEGER;
  let after = scan.afterSeq;
  let written = 0;
  for (;;) {
    if (opts.signal?.aborted) return written;
    const want = Math.min(pageSize, maxLines - written);
    if (want <= 0) return written;
    const { lines, lastSeq } = await readResultRows(q, scan, after, want, opts.maxSeq);
    if (lines.length === 0 || lastSeq === null) return written;
    let chunk = '';
    for (const line of lines) chunk += JSON.stringify(line) + '\n';
    await write(chunk);
    written += lines.length;
    if (lines.length < want) return written;
    after = lastSeq;
  }
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
