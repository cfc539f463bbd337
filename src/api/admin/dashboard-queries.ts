import type { Pool } from 'pg';
import { BATCH_COLUMNS, BATCH_STATUSES, toBatchObject } from '../../core/batches/batch-object';
import type { BatchObject, BatchRow, BatchStatus } from '../../core/batches/batch-object';
import { decodeBatchCursor, encodeBatchCursor } from '../../core/batches/cursors';

/**
 * The dashboard's read model: batches across tenants, failed documents and webhook deliveries.
 * Read-only SQL on the indexes the schema already has; document text is never selected.
 */

/** How many of the newest batches (matching the other filters) a client-id search looks into. */
export const CLIENT_ID_SEARCH_WINDOW = 5_000;

export interface DashboardBatch extends BatchObject {
  tenant: { id: string; name: string };
  /** True when the search term matched one of the batch's document ids (not the batch id). */
  matched_document?: boolean;
}

export interface BatchFilters {
  tenant?: string;
  status?: BatchStatus;
  task?: string;
  /** A batch id, or a document client id. */
  q?: string;
  /** Cursor from a previous page. */
  after?: string;
  limit: number;
}

export interface BatchPage {
  data: DashboardBatch[];
  has_more: boolean;
  next_cursor: string | null;
}

export function isBatchStatus(v: unknown): v is BatchStatus {
  return typeof v === 'string' && (BATCH_STATUSES as readonly string[]).includes(v);
}

const B_COLUMNS = BATCH_COLUMNS.split(',')
  .map((c) => `b.${c.trim()}`)
  .join(', ');

type Row = BatchRow & { tenant_name: string; matched_document?: boolean };

function toDashboardBatch(row: Row, now: Date): DashboardBatch {
  return {
    ...toBatchObject(row, now),
    tenant: { id: row.tenant_id, name: row.tenant_name },
    ...(row.matched_document ? { matched_document: true } : {}),
  };
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listDashboardBatches(pool: Pool, filters: BatchFilters): Promise<BatchPage> {
  // A batch being deleted is gone for the dashboard too.
  const where: string[] = ['b.deleted_at IS NULL'];
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filters.tenant) where.push(`b.tenant_id = ${p(filters.tenant)}`);
  if (filters.status) where.push(`b.status = ${p(filters.status)}::"BatchStatus"`);
  if (filters.task) where.push(`b.task = ${p(filters.task)}`);
  const filterSql = where.length ? `WHERE ${where.join(' AND ')}` : '';

  const outer: string[] = [];
  if (filters.after) {
    const c = decodeBatchCursor(filters.after);
    outer.push(`(b.created_at, b.id) < (${p(c.c)}::timestamptz, ${p(c.i)})`);
  }
  let matchedSelect = 'false AS matched_document';
  if (filters.q) {
    const q = p(filters.q);
    // The batch id itself anywhere, or a document client id within the newest batches matching the
    // filters: one probe of the (batch_id, client_id) unique index per candidate batch.
    // The LATERAL ... LIMIT 1 keeps the plan a per-batch probe (run-time partition pruning) whatever
    // the planner estimates; a plain EXISTS may turn into a scan of every document partition.
    outer.push(`(b.id = ${q} OR b.id IN (
      SELECT r.id FROM (SELECT b.id FROM batches b ${filterSql}
                        ORDER BY b.created_at DESC, b.id DESC LIMIT ${CLIENT_ID_SEARCH_WINDOW}) r
      CROSS JOIN LATERAL (SELECT 1 FROM documents d
                           WHERE d.batch_id = r.id AND d.client_id = ${q} LIMIT 1) hit))`);
    matchedSelect = `(b.id <> ${q}) AS matched_document`;
  }
  const all = [...where, ...outer];
  const limit = p(filters.limit + 1);
  const res = await pool.query<Row>(
    `SELECT ${B_COLUMNS}, t.name AS tenant_name, ${matchedSelect}
       FROM batches b JOIN tenants t ON t.id = b.tenant_id
       ${all.length ? `WHERE ${all.join(' AND ')}` : ''}
      ORDER BY b.created_at DESC, b.id DESC
      LIMIT ${limit}`,
    params,
  );
  const now = new Date();
  const rows = res.rows.slice(0, filters.limit);
  const last = rows[rows.length - 1];
  const hasMore = res.rows.length > filters.limit;
  return {
    data: rows.map((r) => toDashboardBatch(r, now)),
    has_more: hasMore,
    next_cursor: hasMore && last ? encodeBatchCursor(last.created_at, last.id) : null,
  };
}

/** One batch with its tenant, or null. */
export async function getDashboardBatch(pool: Pool, id: string): Promise<DashboardBatch | null> {
  const res = await pool.query<Row>(
    `SELECT ${B_COLUMNS}, t.name AS tenant_name FROM batches b JOIN tenants t ON t.id = b.tenant_id
      WHERE b.id = $1 AND b.deleted_at IS NULL`,
    [id],
  );
  const row = res.rows[0];
  return row ? toDashboardBatch(row, new Date()) : null;
}

export interface FailedDocument {
  seq: number;
  id: string;
  attempts: number;
  error: { code: string; message: string } | null;
  finished_at: string | null;
}

/** The first `limit` failed documents of a batch, in input order (index documents_batch_status_seq_idx). */
export async function listFailedDocuments(
  pool: Pool,
  batchId: string,
  limit = 50,
): Promise<FailedDocument[]> {
  const res = await pool.query<{
    seq: number;
    client_id: string;
    attempts: number;
    error: { code?: unknown; message?: unknown } | null;
    finished_at: Date | null;
  }>(
    `SELECT seq, client_id, attempts, error, finished_at FROM documents
      WHERE batch_id = $1 AND status = 'failed' ORDER BY seq LIMIT $2`,
    [batchId, limit],
  );
  return res.rows.map((r) => ({
    seq: r.seq,
    id: r.client_id,
    attempts: r.attempts,
    error: r.error ? { code: String(r.error.code ?? ''), message: String(r.error.message ?? '') } : null,
    finished_at: r.finished_at?.toISOString() ?? null,
  }));
}

export interface DeliveryAttempt {
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  at: string;
}

export interface WebhookDeliveryView {
  id: string;
  event_type: string;
  url: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
  /** The last 10 attempts, newest first. */
  attempt_log: DeliveryAttempt[];
}

/** The webhook deliveries of a batch (newest first) with their latest attempts. */
export async function listWebhookDeliveries(pool: Pool, batchId: string): Promise<WebhookDeliveryView[]> {
  const res = await pool.query<{
    id: string;
    event_type: string;
    url: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    next_attempt_at: Date | null;
    created_at: Date;
    delivered_at: Date | null;
    attempt_log: Array<{
      attempt: number;
      status_code: number | null;
      latency_ms: number;
      error: string | null;
      at: string;
    }> | null;
  }>(
    `SELECT d.id, d.event_type, d.url, d.status::text AS status, d.attempts, d.last_status_code, d.last_error,
            d.next_attempt_at, d.created_at, d.delivered_at,
            (SELECT json_agg(a ORDER BY a.attempt DESC) FROM (
               SELECT attempt, status_code, latency_ms, error, created_at AS at FROM webhook_attempts
                WHERE delivery_id = d.id ORDER BY attempt DESC LIMIT 10) a) AS attempt_log
       FROM webhook_deliveries d WHERE d.batch_id = $1 ORDER BY d.created_at DESC LIMIT 20`,
    [batchId],
  );
  return res.rows.map((r) => ({
    id: r.id,
    event_type: r.event_type,
    url: r.url,
    status: r.status,
    attempts: r.attempts,
    last_status_code: r.last_status_code,
    last_error: r.last_error,
    next_attempt_at: r.next_attempt_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
    delivered_at: r.delivered_at?.toISOString() ?? null,
    attempt_log: (r.attempt_log ?? []).map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
  }));
}

/** Tenants for the filter (by name). */
export async function listTenants(pool: Pool, limit = 1000): Promise<Array<{ id: string; name: string }>> {
  const res = await pool.query<{ id: string; name: string }>(
    'SELECT id, name FROM tenants ORDER BY name LIMIT $1',
    [limit],
  );
  return res.rows;
}
