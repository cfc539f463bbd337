import { inTransaction } from '../db/queryable';
import { AppError } from '../errors';
import { chunkJobId, chunkQueueName } from '../queue/catalog';
import type { Task } from '../models/types';
import type { BatchDeps } from './batch-deps';
import { toBatchObject } from './batch-object';
import type { BatchObject, BatchRow } from './batch-object';
import { findBatchRow, notFound } from './batch-queries';
import { finalizeBatchIfDone } from './finalize';

/**
 * Cancels a batch. In one transaction: its queued documents become `cancelled` (one UPDATE; the
 * trigger moves the counts), the batch becomes `cancelling`, and `finalizeBatchIfDone` turns it
 * `cancelled` at once when no document is running (documents already in a tensor batch may
 * finish; the pipeline finalizes the batch when they do). Idempotent: a cancelling or cancelled
 * batch is returned as it is. A batch that ended otherwise (completed, failed, expired) is 409
 * BATCH_FINISHED. After the commit, the batch's waiting chunk jobs are removed from the queue
 * (best effort: a job that runs anyway finds no queued document and does nothing).
 */
export async function cancelBatch(deps: BatchDeps, tenantId: string, batchId: string): Promise<BatchObject> {
  const { row, changed } = await inTransaction(deps.db.pool, async (c) => {
    const before = await findBatchRow(c, tenantId, batchId, true);
    if (!before) throw notFound(batchId);
    if (before.status === 'cancelling' || before.status === 'cancelled')
      return { row: before, changed: false };
    if (before.status !== 'queued' && before.status !== 'running') {
      throw new AppError(
        'BATCH_FINISHED',
        `Batch ${batchId} is already ${before.status}; it cannot be cancelled.`,
      );
    }
    await c.query(
      `UPDATE documents SET status = 'cancelled', finished_at = now() WHERE batch_id = $1 AND status = 'queued'`,
      [batchId],
    );
    await c.query(`UPDATE batches SET status = 'cancelling', updated_at = now() WHERE id = $1`, [batchId]);
    await finalizeBatchIfDone(c, batchId);
    const after = await findBatchRow(c, tenantId, batchId);
    return { row: after as BatchRow, changed: true };
  });
  if (changed) {
    deps.logger.info({ batchId, status: row.status }, 'batch cancelled');
    await removeWaitingChunkJobs(deps, row).catch((err: unknown) =>
      deps.logger.warn({ batchId, err: { message: (err as Error).message } }, 'could not remove chunk jobs'),
    );
  }
  return toBatchObject(row);
}

/** Removes the first-generation chunk jobs of a batch that are not running (locked jobs are kept). */
async function removeWaitingChunkJobs(deps: BatchDeps, row: BatchRow): Promise<void> {
  if (row.chunk_count === 0) return;
  const queue = deps.queues.get(chunkQueueName(row.task as Task));
  const SLICE = 200;
  for (let i = 0; i < row.chunk_count; i += SLICE) {
    const ids: string[] = [];
    for (let j = i; j < Math.min(row.chunk_count, i + SLICE); j++) ids.push(chunkJobId(row.id, j));
    await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
  }
}
