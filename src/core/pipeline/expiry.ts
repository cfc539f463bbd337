import type { Pool } from 'pg';
import { finalizeBatchIfDone } from '../batches/finalize';
import { lockBatches, withTransaction } from './transaction';

/**
 * Expiry sweep: a batch whose `expires_at` (created_at + completion_window) has passed ends. Its
 * unfinished documents become `expired` (`cancelled` when the batch was being cancelled) and the
 * batch is finalized (`expired` / `cancelled`), one batch per transaction. Also finalizes active
 * batches that have nothing left to run (a safety net; write-back normally does it).
 */
export interface ExpirySweepResult {
  /** Batches that ended in this sweep. */
  finalized: string[];
  /** Documents marked expired or cancelled. */
  documents: number;
}

export async function expireBatches(pool: Pool, limit = 100): Promise<ExpirySweepResult> {
  const due = await pool.query<{ id: string; status: string }>(
    `SELECT id, status::text AS status FROM batches
     WHERE status IN ('queued', 'running', 'cancelling')
       AND (expires_at <= now() OR (queued_count = 0 AND running_count = 0))
     ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  const out: ExpirySweepResult = { finalized: [], documents: 0 };
  for (const b of due.rows) {
    await withTransaction(pool, async (c) => {
      await lockBatches(c, [b.id]);
      const res = await c.query(
        `UPDATE documents SET
           status = (CASE WHEN $2 = 'cancelling' THEN 'cancelled' ELSE 'expired' END)::"DocumentStatus",
           finished_at = now()
         WHERE batch_id = $1 AND status IN ('queued', 'running')
           AND EXISTS (SELECT 1 FROM batches WHERE id = $1 AND expires_at <= now())`,
        [b.id, b.status],
      );
      out.documents += res.rowCount ?? 0;
      const fin = await finalizeBatchIfDone(c, b.id);
      if (fin) out.finalized.push(b.id);
    });
  }
  return out;
}
