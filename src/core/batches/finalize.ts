import { newId } from '../ids';
import type { Queryable } from '../db/queryable';

/** Batch end states and the webhook event each one emits. */
export const END_EVENTS = {
  completed: 'batch.completed',
  failed: 'batch.failed',
  cancelled: 'batch.cancelled',
  expired: 'batch.expired',
} as const;
export type EndStatus = keyof typeof END_EVENTS;

export interface FinalizedBatch {
  id: string;
  status: EndStatus;
  /** Id of the webhook delivery recorded in the same transaction (outbox), when the batch has a webhook_url. */
  deliveryId: string | null;
}

interface EndRow {
  id: string;
  tenant_id: string;
  status: EndStatus;
  webhook_url: string | null;
  total: number;
  queued_count: number;
  running_count: number;
  completed_count: number;
  failed_count: number;
  cancelled_count: number;
  expired_count: number;
  finished_at: Date;
}

/**
 * Records the webhook delivery of a batch end state (the outbox row) on `q`, which must be the
 * transaction that changed the state. The payload is frozen here so every retry sends the same bytes.
 */
async function recordEndEvent(q: Queryable, row: EndRow): Promise<string | null> {
  if (!row.webhook_url) return null;
  const id = newId('whd');
  const type = END_EVENTS[row.status];
  const payload = JSON.stringify({
    type,
    timestamp: row.finished_at.toISOString(),
    data: {
      id: row.id,
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
    },
  });
  await q.query(
    `INSERT INTO webhook_deliveries (id, batch_id, tenant_id, event_type, url, payload, status, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', now())`,
    [id, row.id, row.tenant_id, type, row.webhook_url, payload],
  );
  return id;
}

const RETURNING = `id, tenant_id, status, webhook_url, total, queued_count, running_count, completed_count,
  failed_count, cancelled_count, expired_count, finished_at`;

/**
 * Moves a batch to its end state when no document is queued or running any more:
 * `cancelling` -> `cancelled`; past `expires_at` with expired documents -> `expired`; otherwise
 * `completed`. Records the webhook outbox row in the same statement's transaction. Call it inside
 * the transaction that changed the documents. Returns null when the batch is not finished (or was
 * finalized already): safe to call any number of times.
 */
export async function finalizeBatchIfDone(q: Queryable, batchId: string): Promise<FinalizedBatch | null> {
  const res = await q.query<EndRow>(
    `UPDATE batches SET
       status = (CASE
         WHEN status = 'cancelling' THEN 'cancelled'
         WHEN expired_count > 0 AND expires_at <= now() THEN 'expired'
         ELSE 'completed' END)::"BatchStatus",
       finished_at = now(), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'running', 'cancelling') AND queued_count = 0 AND running_count = 0
     RETURNING ${RETURNING}`,
    [batchId],
  );
  const row = res.rows[0];
  if (!row) return null;
  return { id: row.id, status: row.status, deliveryId: await recordEndEvent(q, row) };
}

/**
 * Fails a whole batch (e.g. its model cannot load): its unfinished documents become `failed` with
 * `error`, the batch becomes `failed` with the same error, and the outbox row is recorded.
 */
export async function failBatch(
  q: Queryable,
  batchId: string,
  error: { code: string; message: string },
): Promise<FinalizedBatch | null> {
  await q.query(
    `UPDATE documents SET status = 'failed', error = $2::jsonb, finished_at = now()
     WHERE batch_id = $1 AND status IN ('queued', 'running')`,
    [batchId, JSON.stringify(error)],
  );
  const res = await q.query<EndRow>(
    `UPDATE batches SET status = 'failed', error = $2::jsonb, finished_at = now(), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'running', 'cancelling')
     RETURNING ${RETURNING}`,
    [batchId, JSON.stringify(error)],
  );
  const row = res.rows[0];
  if (!row) return null;
  return { id: row.id, status: row.status, deliveryId: await recordEndEvent(q, row) };
}
