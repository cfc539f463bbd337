import type { Pool } from 'pg';
import type { Queryable } from '../db/queryable';
import { inTransaction } from '../db/queryable';
import type { TenantSecrets } from './secrets';

/**
 * Postgres side of webhook delivery (the outbox). A delivery row is written by
 * `finalizeBatchIfDone` / `failBatch` in the transaction of the batch's end state; from then on:
 *
 * 1. the relay claims due rows (`claimDueDeliveries`: pending, `next_attempt_at <= now()`, not
 *    held) by setting `claimed_until`, and enqueues job `{id}-a{attempts+1}`;
 * 2. the sender starts the attempt (`beginAttempt`: `attempts + 1`, held for the request's
 *    duration) only if the row is still pending at the expected attempt, so a duplicate or stale
 *    job sends nothing;
 * 3. the sender records the result (`completeAttempt`: attempt log row + next state) in one
 *    transaction.
 *
 * If a process dies after 1 or 2, `claimed_until` passes and the relay picks the row up again;
 * an attempt that started but never recorded its result is logged as interrupted
 * (`recoverInterruptedAttempts`) and counts as a failed attempt.
 */

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryRow {
  id: string;
  /** The batch whose end the delivery reports; null for a training job's delivery. */
  batch_id: string | null;
  tenant_id: string;
  event_type: string;
  url: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  series_base: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  created_at: Date;
}

/** A due delivery the relay claimed, and the attempt number its job will make. */
export interface ClaimedDelivery {
  id: string;
  attempt: number;
}

/**
 * Claims up to `limit` due deliveries for `leaseMs` (rows locked by another relay are skipped). A row
 * whose latest attempt started but has no log row (its sender died) is left to
 * `recoverInterruptedAttempts` first: claimed here, its next attempt would start and the lost one would
 * never be logged as interrupted (a race between the two when the hold expired).
 */
export async function claimDueDeliveries(
  q: Queryable,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const res = await q.query<{ id: string; attempts: number }>(
    `WITH due AS (
       SELECT id FROM webhook_deliveries
       WHERE status = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
         AND (attempts = series_base OR EXISTS (SELECT 1 FROM webhook_attempts a
                WHERE a.delivery_id = webhook_deliveries.id AND a.attempt = webhook_deliveries.attempts))
       ORDER BY next_attempt_at
       LIMIT $1
       FOR UPDATE SKIP LOCKED)
     UPDATE webhook_deliveries d SET claimed_until = now() + make_interval(secs => $2::float8 / 1000)
     FROM due WHERE d.id = due.id
     RETURNING d.id, d.attempts`,
    [limit, leaseMs],
  );
  return res.rows.map((r) => ({ id: r.id, attempt: r.attempts + 1 }));
}

/** Releases a relay claim (the enqueue failed): the next relay pass picks the row up again. */
export async function releaseClaim(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE webhook_deliveries SET claimed_until = NULL WHERE id = $1 AND status = 'pending'`, [
    id,
  ]);
}

export const INTERRUPTED_ERROR = 'interrupted: the worker stopped before the result was recorded';

/**
 * Logs attempts that started but whose worker died before recording the result (the hold
 * expired and no log row exists) as interrupted. A delivery whose series is exhausted by that
 * becomes `failed`; the others are due again at once. Returns the ids, and those that failed.
 */
export async function recoverInterruptedAttempts(
  pool: Pool,
  maxAttemptsPerSeries: number,
  limit = 100,
): Promise<{ recovered: string[]; failed: string[] }> {
  return inTransaction(pool, async (c) => {
    const lost = await c.query<{ id: string; attempts: number; exhausted: boolean }>(
      `SELECT d.id, d.attempts, (d.attempts - d.series_base) >= $1 AS exhausted
       FROM webhook_deliveries d
       WHERE d.status = 'pending' AND d.claimed_until < now() AND d.attempts > d.series_base
         AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.attempt = d.attempts)
       LIMIT $2
       FOR UPDATE OF d SKIP LOCKED`,
      [maxAttemptsPerSeries, limit],
    );
    if (lost.rows.length === 0) return { recovered: [], failed: [] };
    const ids = lost.rows.map((r) => r.id);
    await c.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error)
       SELECT id, attempts, NULL, 0, $2 FROM webhook_deliveries WHERE id = ANY($1)
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [ids, INTERRUPTED_ERROR],
    );
    const failed = lost.rows.filter((r) => r.exhausted).map((r) => r.id);
    await c.query(
      `UPDATE webhook_deliveries SET
         status = CASE WHEN id = ANY($2) THEN 'failed' ELSE 'pending' END::"DeliveryStatus",
         next_attempt_at = CASE WHEN id = ANY($2) THEN NULL ELSE now() END,
         claimed_until = NULL, last_status_code = NULL, last_error = $3
       WHERE id = ANY($1)`,
      [ids, failed, INTERRUPTED_ERROR],
    );
    return { recovered: ids, failed };
  });
}

/** What the sender needs for one attempt: the delivery and its tenant's secrets. */
export interface AttemptContext extends TenantSecrets {
  id: string;
  batch_id: string | null;
  training_job_id: string | null;
  tenant_id: string;
  event_type: string;
  url: string;
  payload: string;
  /** This attempt's number (1-based, over all series). */
  attempt: number;
  /** This attempt's number within the current series (1-based). */
  attemptInSeries: number;
}

/**
 * Starts attempt `attempt` of a delivery: only when the delivery is pending, due, its last
 * attempt is `attempt - 1` and its batch is not being deleted (otherwise the job is a duplicate,
 * stale or moot: returns null and nothing is sent). Holds the delivery for `holdMs` (longer than the request can take).
 */
export async function beginAttempt(
  q: Queryable,
  deliveryId: string,
  attempt: number,
  holdMs: number,
): Promise<AttemptContext | null> {
  const res = await q.query<AttemptContext>(
    `UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
       claimed_until = now() + make_interval(secs => $3::float8 / 1000)
     FROM tenants t
     WHERE d.id = $1 AND t.id = d.tenant_id AND d.status = 'pending' AND d.attempts = $2 - 1
       AND d.next_attempt_at <= now()
       AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = d.batch_id AND b.deleted_at IS NOT NULL)
     RETURNING d.id, d.batch_id, d.training_job_id, d.tenant_id, d.event_type, d.url, d.payload, d.attempts AS attempt,
       d.attempts - d.series_base AS "attemptInSeries",
       t.webhook_secret, t.previous_webhook_secret, t.previous_secret_expires_at`,
    [deliveryId, attempt, holdMs],
  );
  return res.rows[0] ?? null;
}

/** The state a delivery moves to after an attempt. */
export type NextState =
  { status: 'succeeded' } | { status: 'failed' } | { status: 'pending'; delayMs: number };

export interface AttemptRecord {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

/**
 * Records the attempt in the log and moves the delivery to `next`, in one transaction. Returns
 * false (and changes nothing) when the attempt was already recorded as interrupted or superseded.
 */
export async function completeAttempt(
  pool: Pool,
  deliveryId: string,
  attempt: number,
  rec: AttemptRecord,
  next: NextState,
): Promise<boolean> {
  return inTransaction(pool, async (c) => {
    // A delivery whose batch was deleted meanwhile is gone: nothing to record (no foreign-key error).
    const ins = await c.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error)
       SELECT $1::text, $2::int, $3::int, $4::int, $5::text WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [deliveryId, attempt, rec.statusCode, Math.max(0, Math.round(rec.latencyMs)), rec.error],
    );
    if (ins.rowCount !== 1) return false;
    const upd = await c.query(
      `UPDATE webhook_deliveries SET
         status = $3::"DeliveryStatus",
         next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $4::float8 / 1000) END,
         delivered_at = CASE WHEN $3 = 'succeeded' THEN now() ELSE delivered_at END,
         claimed_until = NULL, last_status_code = $5, last_error = $6
       WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
      [
        deliveryId,
        attempt,
        next.status,
        next.status === 'pending' ? next.delayMs : 0,
        rec.statusCode,
        rec.error,
      ],
    );
    if (upd.rowCount !== 1) throw new SupersededAttempt();
    return true;
  }).catch((err: unknown) => {
    if (err instanceof SupersededAttempt) return false;
    throw err;
  });
}

class SupersededAttempt extends Error {}

/** A delivery with its attempt log (oldest attempt first). */
export interface DeliveryWithAttempts extends DeliveryRow {
  attempt_log: AttemptRow[];
}

const DELIVERY_COLUMNS = `id, batch_id, tenant_id, event_type, url, payload, status, attempts, series_base,
  next_attempt_at, last_status_code, last_error, created_at, delivered_at`;

/** True when batch `batchId` exists and belongs to `tenantId`. */
export async function batchBelongsToTenant(
  q: Queryable,
  batchId: string,
  tenantId: string,
): Promise<boolean> {
  const res = await q.query('SELECT 1 FROM batches WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL', [
    batchId,
    tenantId,
  ]);
  return res.rowCount === 1;
}

/** Deliveries of a batch (oldest first) with their attempts; `deliveryId` narrows to one. */
export async function listDeliveries(
  q: Queryable,
  batchId: string,
  deliveryId?: string,
): Promise<DeliveryWithAttempts[]> {
  return deliveriesWhere(q, 'batch_id', batchId, deliveryId);
}

/** A training job's deliveries (oldest first), each with its attempt log. */
export async function listTrainingJobDeliveries(
  q: Queryable,
  trainingJobId: string,
): Promise<(DeliveryWithAttempts & { training_job_id: string })[]> {
  return (await deliveriesWhere(q, 'training_job_id', trainingJobId)).map((d) => ({
    ...d,
    training_job_id: trainingJobId,
  }));
}

async function deliveriesWhere(
  q: Queryable,
  column: 'batch_id' | 'training_job_id',
  ownerId: string,
  deliveryId?: string,
): Promise<DeliveryWithAttempts[]> {
  const d = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ${column} = $1 AND ($2::text IS NULL OR id = $2)
     ORDER BY created_at, id`,
    [ownerId, deliveryId ?? null],
  );
  if (d.rows.length === 0) return [];
  const a = await q.query<AttemptRow>(
    `SELECT delivery_id, attempt, status_code, latency_ms, error, created_at FROM webhook_attempts
     WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt`,
    [d.rows.map((r) => r.id)],
  );
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const row of a.rows) {
    const list = byDelivery.get(row.delivery_id) ?? [];
    list.push(row);
    byDelivery.set(row.delivery_id, list);
  }
  return d.rows.map((r) => ({ ...r, attempt_log: byDelivery.get(r.id) ?? [] }));
}

/** One delivery of a batch, or null. */
export async function getDelivery(
  q: Queryable,
  batchId: string,
  deliveryId: string,
): Promise<DeliveryRow | null> {
  const res = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND batch_id = $2`,
    [deliveryId, batchId],
  );
  return res.rows[0] ?? null;
}

/**
 * Redelivers a delivery of a batch with the same `webhook-id` and payload: a finished one
 * (succeeded or failed) starts a new attempt series at once (the retry schedule starts over); a
 * pending one that waits for its next retry is made due now (an attempt in flight is left alone).
 * Returns the updated delivery, or null when it does not exist.
 */
export async function redeliver(
  q: Queryable,
  batchId: string,
  deliveryId: string,
): Promise<DeliveryRow | null> {
  const res = await q.query<DeliveryRow>(
    `UPDATE webhook_deliveries SET
       series_base = CASE WHEN status = 'pending' THEN series_base ELSE attempts END,
       next_attempt_at = CASE WHEN status = 'pending' THEN LEAST(next_attempt_at, now()) ELSE now() END,
       claimed_until = CASE WHEN status = 'pending' THEN claimed_until END,
       status = 'pending'
     WHERE id = $1 AND batch_id = $2
     RETURNING ${DELIVERY_COLUMNS}`,
    [deliveryId, batchId],
  );
  return res.rows[0] ?? null;
}
