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

export interface TaskBacklog {
  task: string;
  /** Batches queued, running or cancelling. */
  batches: number;
  /** Documents waiting for a worker, and in progress. */
  queued: number;
  running: number;
  /** Creation time of the oldest batch that still has queued documents (ISO), or null. */
  oldest_queued_at: string | null;
}

/**
 * Documents waiting and in progress per task, from the counters of the active batches (every task
 * listed, zeros included). Reads only active batches' rows.
 */
export async function taskBacklog(pool: Pool, tasks: readonly string[]): Promise<TaskBacklog[]> {
  const res = await pool.query<{
    task: string;
    batches: number;
    queued: string;
    running: string;
    oldest: Date | null;
  }>(
    `SELECT task, count(*)::int AS batches, sum(queued_count)::text AS queued, sum(running_count)::text AS running,
            min(created_at) FILTER (WHERE queued_count > 0) AS oldest
       FROM batches WHERE status IN ('queued', 'running', 'cancelling') AND deleted_at IS NULL GROUP BY task`,
  );
  const byTask = new Map(res.rows.map((r) => [r.task, r]));
  return tasks.map((task) => {
    const r = byTask.get(task);
    return {
      task,
      batches: r?.batches ?? 0,
      queued: Number(r?.queued ?? 0),
      running: Number(r?.running ?? 0),
      oldest_queued_at: r?.oldest?.toISOString() ?? null,
    };
  });
}

/** Bin lengths a batch's chart may use, seconds: the first that gives at most {@link MAX_BATCH_BINS}. */
const BATCH_BINS = [1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86_400];
export const MAX_BATCH_BINS = 120;

export interface BatchThroughput {
  /** Start of the first bin (the batch's start), ms since the epoch. */
  start: number;
  bin_seconds: number;
  /** Documents finished (completed or failed) per bin, oldest first. */
  documents: number[];
  /** Of which failed. */
  failed: number[];
}

/**
 * Documents of a batch finished per time bin since it started, from the documents' `finished_at`
 * (index documents_batch_status_seq_idx: one batch's finished documents, one partition). Null
 * before the batch started.
 */
export async function batchThroughput(
  pool: Pool,
  batch: Pick<DashboardBatch, 'id' | 'started_at' | 'finished_at'>,
  now = Date.now(),
): Promise<BatchThroughput | null> {
  if (!batch.started_at) return null;
  const start = Date.parse(batch.started_at);
  const end = Math.max(start + 1000, batch.finished_at ? Date.parse(batch.finished_at) : now);
  const span = (end - start) / 1000;
  const bin = BATCH_BINS.find((b) => span / b <= MAX_BATCH_BINS) ?? BATCH_BINS[BATCH_BINS.length - 1]!;
  const n = Math.max(1, Math.ceil(span / bin));
  const res = await pool.query<{ i: number; n: number; failed: number }>(
    `SELECT floor(extract(epoch FROM finished_at - $2::timestamptz) / $3)::int AS i, count(*)::int AS n,
            count(*) FILTER (WHERE status = 'failed')::int AS failed
       FROM documents
      WHERE batch_id = $1 AND status IN ('completed', 'failed') AND finished_at IS NOT NULL
      GROUP BY 1`,
    [batch.id, new Date(start).toISOString(), bin],
  );
  const documents = new Array<number>(n).fill(0);
  const failed = new Array<number>(n).fill(0);
  for (const r of res.rows) {
    // Documents settled before `started_at` (none normally) count in the first bin, after the end in the last.
    const i = Math.min(n - 1, Math.max(0, r.i));
    documents[i] = (documents[i] ?? 0) + r.n;
    failed[i] = (failed[i] ?? 0) + r.failed;
  }
  return { start, bin_seconds: bin, documents, failed };
}

/** How many of the newest batches with failures the error view looks into, and documents per batch. */
export const ERROR_VIEW_BATCHES = 20;
export const ERROR_VIEW_DOCS_PER_BATCH = 1_000;

export interface FailedBatchView {
  id: string;
  tenant: { id: string; name: string };
  task: string;
  status: string;
  failed: number;
  total: number;
  error: { code: string; message: string } | null;
  created_at: string;
  finished_at: string | null;
}

export interface ErrorCodeView {
  code: string;
  documents: number;
  batches: number;
  last_at: string | null;
  /** The newest batch (by creation) with this code. */
  latest_batch: string;
}

export interface RecentFailure {
  batch_id: string;
  tenant: string;
  task: string;
  id: string;
  seq: number;
  code: string;
  message: string;
  attempts: number;
  finished_at: string | null;
}

export interface ErrorOverview {
  batches: FailedBatchView[];
  codes: ErrorCodeView[];
  failures: RecentFailure[];
}

const RECENT_FAILED_BATCHES = `SELECT b.id, b.tenant_id, b.task, b.status, b.failed_count, b.total, b.error,
       b.created_at, b.finished_at
  FROM batches b WHERE (b.failed_count > 0 OR b.status = 'failed') AND b.deleted_at IS NULL
 ORDER BY b.created_at DESC, b.id DESC LIMIT $1`;

/**
 * Errors across batches: the newest {@link ERROR_VIEW_BATCHES} batches with failed documents (or a
 * batch-level error), the error codes among their first {@link ERROR_VIEW_DOCS_PER_BATCH} failed
 * documents each (one index range per batch), and the newest of those failures (optionally of one
 * code). Bounded whatever the size of the documents table.
 */
export async function errorOverview(pool: Pool, code?: string): Promise<ErrorOverview> {
  const failedDocs = `WITH r AS (${RECENT_FAILED_BATCHES})
    SELECT r.id AS batch_id, r.created_at AS batch_created_at, r.task, t.name AS tenant, d.client_id, d.seq,
           d.attempts, coalesce(d.error->>'code', '') AS code, coalesce(d.error->>'message', '') AS message,
           d.finished_at
      FROM r JOIN tenants t ON t.id = r.tenant_id
      CROSS JOIN LATERAL (SELECT client_id, seq, attempts, error, finished_at FROM documents d
                           WHERE d.batch_id = r.id AND d.status = 'failed' ORDER BY seq LIMIT $2) d`;
  const [batches, codes, failures] = await Promise.all([
    pool.query<{
      id: string;
      tenant_id: string;
      tenant_name: string;
      task: string;
      status: string;
      failed_count: number;
      total: number;
      error: { code?: unknown; message?: unknown } | null;
      created_at: Date;
      finished_at: Date | null;
    }>(
      `SELECT r.*, t.name AS tenant_name FROM (${RECENT_FAILED_BATCHES}) r JOIN tenants t ON t.id = r.tenant_id
        ORDER BY r.created_at DESC, r.id DESC`,
      [ERROR_VIEW_BATCHES],
    ),
    pool.query<{
      code: string;
      documents: number;
      batches: number;
      last_at: Date | null;
      latest_batch: string;
    }>(
      `SELECT f.code, count(*)::int AS documents, count(DISTINCT f.batch_id)::int AS batches,
              max(f.finished_at) AS last_at,
              (array_agg(f.batch_id ORDER BY f.batch_created_at DESC, f.batch_id DESC))[1] AS latest_batch
         FROM (${failedDocs}) f GROUP BY f.code ORDER BY documents DESC, f.code LIMIT 20`,
      [ERROR_VIEW_BATCHES, ERROR_VIEW_DOCS_PER_BATCH],
    ),
    pool.query<{
      batch_id: string;
      tenant: string;
      task: string;
      client_id: string;
      seq: number;
      attempts: number;
      code: string;
      message: string;
      finished_at: Date | null;
    }>(
      `SELECT * FROM (${failedDocs}) f ${code !== undefined ? 'WHERE f.code = $3' : ''}
        ORDER BY f.finished_at DESC NULLS LAST, f.batch_id, f.seq LIMIT 50`,
      code !== undefined
        ? [ERROR_VIEW_BATCHES, ERROR_VIEW_DOCS_PER_BATCH, code]
        : [ERROR_VIEW_BATCHES, ERROR_VIEW_DOCS_PER_BATCH],
    ),
  ]);
  return {
    batches: batches.rows.map((r) => ({
      id: r.id,
      tenant: { id: r.tenant_id, name: r.tenant_name },
      task: r.task,
      status: r.status,
      failed: r.failed_count,
      total: r.total,
      error: r.error ? { code: String(r.error.code ?? ''), message: String(r.error.message ?? '') } : null,
      created_at: r.created_at.toISOString(),
      finished_at: r.finished_at?.toISOString() ?? null,
    })),
    codes: codes.rows.map((r) => ({
      code: r.code,
      documents: r.documents,
      batches: r.batches,
      last_at: r.last_at?.toISOString() ?? null,
      latest_batch: r.latest_batch,
    })),
    failures: failures.rows.map((r) => ({
      batch_id: r.batch_id,
      tenant: r.tenant,
      task: r.task,
      id: r.client_id,
      seq: r.seq,
      code: r.code,
      message: r.message,
      attempts: r.attempts,
      finished_at: r.finished_at?.toISOString() ?? null,
    })),
  };
}

export interface TenantOverview {
  id: string;
  name: string;
  created_at: string;
  keys_active: number;
  keys_revoked: number;
  last_used_at: string | null;
  batches: number;
  batches_active: number;
  documents: number;
  completed: number;
  failed: number;
  last_batch_at: string | null;
}

/**
 * Every tenant with its keys and what its batches hold (from the batches' counters: no document
 * rows are read). Batches deleted by retention or `DELETE` no longer count.
 */
export async function tenantOverview(pool: Pool, limit = 500): Promise<TenantOverview[]> {
  const res = await pool.query<{
    id: string;
    name: string;
    created_at: Date;
    keys_active: number;
    keys_revoked: number;
    last_used_at: Date | null;
    batches: number;
    batches_active: number;
    documents: string;
    completed: string;
    failed: string;
    last_batch_at: Date | null;
  }>(
    `SELECT t.id, t.name, t.created_at, k.keys_active, k.keys_revoked, k.last_used_at,
            b.batches, b.batches_active, b.documents, b.completed, b.failed, b.last_batch_at
       FROM tenants t
       CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS keys_active,
                                  count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS keys_revoked,
                                  max(last_used_at) AS last_used_at
                             FROM api_keys WHERE tenant_id = t.id) k
       CROSS JOIN LATERAL (SELECT count(*)::int AS batches,
                                  count(*) FILTER (WHERE status IN ('queued', 'running', 'cancelling'))::int
                                    AS batches_active,
                                  coalesce(sum(total), 0)::text AS documents,
                                  coalesce(sum(completed_count), 0)::text AS completed,
                                  coalesce(sum(failed_count), 0)::text AS failed,
                                  max(created_at) AS last_batch_at
                             FROM batches WHERE tenant_id = t.id AND deleted_at IS NULL) b
      ORDER BY t.name LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => ({
    id: r.id,
    name: r.name,
    created_at: r.created_at.toISOString(),
    keys_active: r.keys_active,
    keys_revoked: r.keys_revoked,
    last_used_at: r.last_used_at?.toISOString() ?? null,
    batches: r.batches,
    batches_active: r.batches_active,
    documents: Number(r.documents),
    completed: Number(r.completed),
    failed: Number(r.failed),
    last_batch_at: r.last_batch_at?.toISOString() ?? null,
  }));
}
