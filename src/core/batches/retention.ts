import type { Pool } from 'pg';
import { Counter } from 'prom-client';
import { registry } from '../metrics';
import { markedBatches, purgeBatch } from './purge-batch';

/**
 * Data retention (`RETENTION_DAYS`): finished batches are deleted once they finished longer ago
 * than the retention, by the workers' maintenance loop (one worker, the leader). A sweep marks
 * due batches deleted in small statements (they vanish from the API at once), then purges marked
 * batches (these and those deleted through the API) in bounded transactions until its time budget
 * is spent; the next sweep carries on.
 */

export const batchesDeleted = new Counter({
  name: 'docbatch_batches_deleted_total',
  help: 'Batches marked deleted, by reason (api: DELETE /v1/batches/{id}; retention: RETENTION_DAYS)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const documentsPurged = new Counter({
  name: 'docbatch_documents_purged_total',
  help: 'Documents of deleted batches removed from Postgres',
  registers: [registry],
});

/** Batches marked per statement. */
const MARK_LIMIT = 500;

/**
 * Marks finished batches whose `finished_at` is more than `retentionDays` ago deleted (at most
 * `limit`); returns their ids. Rows locked by a concurrent retry or delete are skipped this time.
 */
export async function markRetentionExpired(
  pool: Pool,
  retentionDays: number,
  limit = MARK_LIMIT,
): Promise<string[]> {
  if (!(retentionDays > 0)) return [];
  const res = await pool.query<{ id: string }>(
    `WITH due AS (
       SELECT id FROM batches
       WHERE finished_at IS NOT NULL AND deleted_at IS NULL
         AND finished_at < now() - make_interval(secs => $1::float8)
         AND status IN ('completed', 'failed', 'cancelled', 'expired')
       ORDER BY finished_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED)
     UPDATE batches b SET deleted_at = now(), updated_at = now()
     FROM due WHERE b.id = due.id
     RETURNING b.id`,
    [retentionDays * 86_400, limit],
  );
  if (res.rows.length > 0) batchesDeleted.inc({ reason: 'retention' }, res.rows.length);
  return res.rows.map((r) => r.id);
}

export interface RetentionSweepResult {
  /** Batches marked deleted by retention in this sweep. */
  expired: number;
  /** Batches whose rows are now all gone. */
  purged: number;
  /** Documents removed. */
  documents: number;
  /** Work is left (the budget ran out). */
  more: boolean;
}

export interface RetentionSweepOptions {
  /** `RETENTION_DAYS`; 0 = keep forever (batches deleted through the API are still purged). */
  retentionDays: number;
  /** Time budget of the sweep, ms. */
  budgetMs: number;
  /** Documents per DELETE transaction. */
  chunkDocuments?: number;
}

/** One retention sweep: mark what is due, then purge marked batches until the budget is spent. */
export async function retentionSweep(pool: Pool, opts: RetentionSweepOptions): Promise<RetentionSweepResult> {
  const deadline = Date.now() + opts.budgetMs;
  const out: RetentionSweepResult = { expired: 0, purged: 0, documents: 0, more: false };
  for (;;) {
    const marked = await markRetentionExpired(pool, opts.retentionDays);
    out.expired += marked.length;
    if (marked.length < MARK_LIMIT || Date.now() >= deadline) break;
  }
  for (;;) {
    const ids = await markedBatches(pool, 50);
    if (ids.length === 0) return out;
    for (const id of ids) {
      if (Date.now() >= deadline) {
        out.more = true;
        return out;
      }
      const r = await purgeBatch(pool, id, { deadline, chunkDocuments: opts.chunkDocuments });
      out.documents += r.documents;
      documentsPurged.inc(r.documents);
      if (r.done) out.purged++;
      else {
        out.more = true;
        return out;
      }
    }
  }
}
