import { inTransaction } from '../db/queryable';
import { AppError } from '../errors';
import { enqueueChunks } from '../queue/enqueue-chunks';
import type { ChunkRange } from '../queue/enqueue-chunks';
import type { Task } from '../models/types';
import type { BatchDeps } from './batch-deps';
import { toBatchObject } from './batch-object';
import type { BatchObject, BatchRow } from './batch-object';
import { findBatchRow, notFound } from './batch-queries';

/**
 * Retries a batch: its `failed` documents (and `expired` ones when the batch is `expired`) go back
 * to `queued` with result, error and attempts cleared, in one UPDATE (the trigger moves the
 * counts). The batch returns to `queued` (or stays `running`), `finished_at` and `error` are
 * cleared, and `expires_at` is pushed to at least now + its completion window. After the commit,
 * chunk jobs covering exactly the requeued documents are enqueued under a new generation (a
 * millisecond timestamp, so job ids never collide with earlier ones).
 *
 * Nothing to retry (no failed/expired document): 202 with the batch unchanged. Cancelling or
 * cancelled batches cannot be retried: 409 BATCH_FINISHED.
 */
export async function retryBatch(deps: BatchDeps, tenantId: string, batchId: string): Promise<BatchObject> {
  const chunkSize = deps.settings.chunkSize;
  const { row, ranges } = await inTransaction(deps.db.pool, async (c) => {
    const before = await findBatchRow(c, tenantId, batchId, true);
    if (!before) throw notFound(batchId);
    if (before.status === 'cancelling' || before.status === 'cancelled') {
      throw new AppError(
        'BATCH_FINISHED',
        `Batch ${batchId} is ${before.status}; a cancelled batch cannot be retried.`,
      );
    }
    const statuses = before.status === 'expired' ? ['failed', 'expired'] : ['failed'];
    const groups = await c.query<{ chunk: number; seq_from: number; seq_to: number }>(
      `WITH requeued AS (
         UPDATE documents SET status = 'queued', result = NULL, error = NULL, finished_at = NULL, attempts = 0
          WHERE batch_id = $1 AND status = ANY($2::"DocumentStatus"[])
          RETURNING seq)
       SELECT ((seq - 1) / $3)::int AS chunk, min(seq)::int AS seq_from, max(seq)::int AS seq_to
         FROM requeued GROUP BY 1 ORDER BY 1`,
      [batchId, statuses, chunkSize],
    );
    if (groups.rows.length === 0) return { row: before, ranges: [] as ChunkRange[] };
    await c.query(
      `UPDATE batches SET
         status = (CASE WHEN status = 'running' THEN 'running' ELSE 'queued' END)::"BatchStatus",
         finished_at = NULL, error = NULL, updated_at = now(),
         expires_at = greatest(expires_at, now() + (CASE
           WHEN completion_window ~ '^[0-9]+s$' THEN make_interval(secs => rtrim(completion_window, 's')::int)
           WHEN completion_window ~ '^[0-9]+m$' THEN make_interval(mins => rtrim(completion_window, 'm')::int)
           WHEN completion_window ~ '^[0-9]+h$' THEN make_interval(hours => rtrim(completion_window, 'h')::int)
           ELSE make_interval(days => rtrim(completion_window, 'd')::int) END))
       WHERE id = $1`,
      [batchId],
    );
    const after = (await findBatchRow(c, tenantId, batchId)) as BatchRow;
    return {
      row: after,
      ranges: groups.rows.map((g) => ({ chunk: g.chunk, seqFrom: g.seq_from, seqTo: g.seq_to })),
    };
  });
  if (ranges.length > 0) {
    const log = deps.logger.child({ batchId });
    try {
      await enqueueChunks(deps.queues, ranges, {
        batchId,
        task: row.task as Task,
        priority: row.priority,
        attempts: deps.settings.chunkAttempts,
        generation: Date.now(),
      });
    } catch (err) {
      log.warn(
        { err: { message: (err as Error).message } },
        'retry stored but its chunk jobs could not be enqueued',
      );
    }
    log.info({ documents: row.queued_count, chunks: ranges.length }, 'batch retried');
  }
  return toBatchObject(row);
}
