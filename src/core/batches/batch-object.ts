/**
 * The public batch object (API contract) and its mapping from a `batches` row. Counts come from the
 * trigger-maintained `*_count` columns, so reading a batch never counts documents.
 */

export const BATCH_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelling',
  'cancelled',
  'expired',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
/** Batch states after which nothing runs any more. */
export const FINISHED_BATCH_STATUSES: readonly BatchStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
];
/** Batch states that count against `MAX_ACTIVE_BATCHES`. */
export const ACTIVE_BATCH_STATUSES: readonly BatchStatus[] = ['queued', 'running', 'cancelling'];

export interface BatchCounts {
  total: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  expired: number;
}

export interface BatchObject {
  id: string;
  object: 'batch';
  task: string;
  model: string;
  status: BatchStatus;
  counts: BatchCounts;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  priority: number;
  webhook_url: string | null;
  completion_window: string;
  /** Why the batch failed as a whole (`failed` status), else null. */
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string;
  /** Documents processed (completed + failed) per second since `started_at`; null before any finished. */
  throughput_docs_per_s: number | null;
  /** Seconds until the queued and running documents are done at the current throughput; 0 when none remain; null when unknown. */
  eta_s: number | null;
  /**
   * When retention deletes the batch with its documents and results: `finished_at` +
   * `RETENTION_DAYS`. Null while the batch has not finished, or when retention is off (0).
   */
  data_expires_at: string | null;
}

let retentionMs = 29 * 86_400_000;

/**
 * Sets the retention the batch object reports in `data_expires_at` (`RETENTION_DAYS` of the
 * process; 0 = none). The API calls it once at start; the workers' sweep uses the same variable.
 */
export function setRetentionDays(days: number): void {
  retentionMs = Math.round(days * 86_400_000);
}

/** A `batches` row as selected by {@link BATCH_COLUMNS}. */
export interface BatchRow {
  id: string;
  tenant_id: string;
  task: string;
  model: string;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  priority: number;
  webhook_url: string | null;
  status: BatchStatus;
  error: { code: string; message: string } | null;
  completion_window: string;
  total: number;
  queued_count: number;
  running_count: number;
  completed_count: number;
  failed_count: number;
  cancelled_count: number;
  expired_count: number;
  chunk_count: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  expires_at: Date;
}

export const BATCH_COLUMNS = `id, tenant_id, task, model, options, metadata, priority, webhook_url, status, error,
  completion_window, total, queued_count, running_count, completed_count, failed_count, cancelled_count,
  expired_count, chunk_count, created_at, started_at, finished_at, expires_at`;

/** Maps a row to the contract's batch object; `now` is the reference for live throughput. */
export function toBatchObject(row: BatchRow, now: Date = new Date()): BatchObject {
  const processed = row.completed_count + row.failed_count;
  const remaining = row.queued_count + row.running_count;
  let throughput: number | null = null;
  if (row.started_at && processed > 0) {
    const end = row.finished_at ?? now;
    const seconds = (end.getTime() - row.started_at.getTime()) / 1000;
    if (seconds > 0) throughput = Math.round((processed / seconds) * 10) / 10;
  }
  let eta: number | null = null;
  if (remaining === 0 && (row.finished_at || row.status !== 'queued')) eta = 0;
  else if (throughput && throughput > 0) eta = Math.ceil(remaining / throughput);
  return {
    id: row.id,
    object: 'batch',
    task: row.task,
    model: row.model,
    status: row.status,
    counts: {
      total: row.total,
      queued: row.queued_count,
      running: row.running_count,
      completed: row.completed_count,
      failed: row.failed_count,
      cancelled: row.cancelled_count,
      expired: row.expired_count,
    },
    options: row.options,
    metadata: row.metadata,
    priority: row.priority,
    webhook_url: row.webhook_url,
    completion_window: row.completion_window,
    error: row.error ?? null,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    expires_at: row.expires_at.toISOString(),
    throughput_docs_per_s: throughput,
    eta_s: eta,
    data_expires_at:
      row.finished_at && retentionMs > 0
        ? new Date(row.finished_at.getTime() + retentionMs).toISOString()
        : null,
  };
}
