import { inTransaction } from '../db/queryable';
import { AppError } from '../errors';
import type { BatchDeps } from './batch-deps';
import { FINISHED_BATCH_STATUSES } from './batch-object';
import { findBatchRow, notFound } from './batch-queries';
import { purgeBatch } from './purge-batch';
import { batchesDeleted, documentsPurged } from './retention';

/** The answer to a deletion (the shape of OpenAI's file deletion). */
export interface DeletedBatch {
  id: string;
  object: 'batch.deleted';
  deleted: true;
}

/** How long DELETE removes rows itself before leaving the rest to the maintenance loop, ms. */
export const DELETE_INLINE_BUDGET_MS = 10_000;

/**
 * Deletes a finished batch with its documents, results and webhook deliveries. Like Anthropic's
 * Message Batches, only a batch that has ended (completed, failed, cancelled, expired) can be
 * deleted: a queued, running or cancelling one is 409 BATCH_NOT_FINISHED (cancel it, wait for
 * `cancelled`, then delete). Another tenant's batch is 404.
 *
 * One short transaction marks the batch deleted (`deleted_at`): from its commit every read answers
 * 404 and the batch is out of every listing. Its rows are then removed in bounded transactions
 * ({@link purgeBatch}), here for up to `inlineBudgetMs` (so a small batch is gone when the answer
 * arrives); what is left of a very large one (or of a purge interrupted by a crash) is removed by
 * the workers' maintenance loop. Usage figures (`usage_daily`) are kept.
 */
export async function deleteBatch(
  deps: BatchDeps,
  tenantId: string,
  batchId: string,
  opts: { inlineBudgetMs?: number } = {},
): Promise<DeletedBatch> {
  await inTransaction(deps.db.pool, async (c) => {
    const row = await findBatchRow(c, tenantId, batchId, true);
    if (!row) throw notFound(batchId);
    if (!FINISHED_BATCH_STATUSES.includes(row.status)) {
      throw new AppError(
        'BATCH_NOT_FINISHED',
        `Batch ${batchId} is ${row.status}; only a finished batch can be deleted. Cancel it, wait until it is cancelled, then delete it.`,
      );
    }
    await c.query('UPDATE batches SET deleted_at = now(), updated_at = now() WHERE id = $1', [batchId]);
  });
  batchesDeleted.inc({ reason: 'api' });
  deps.logger.info({ batchId }, 'batch deleted');
  const budget = opts.inlineBudgetMs ?? DELETE_INLINE_BUDGET_MS;
  try {
    const out = await purgeBatch(deps.db.pool, batchId, { deadline: Date.now() + budget });
    documentsPurged.inc(out.documents);
    if (!out.done)
      deps.logger.info({ batchId, documents: out.documents }, 'batch purge continues in the background');
  } catch (err) {
    // The deletion is committed; the maintenance loop finishes the purge.
    deps.logger.warn({ batchId, err: { message: (err as Error).message } }, 'batch purge interrupted');
  }
  return { id: batchId, object: 'batch.deleted', deleted: true };
}
