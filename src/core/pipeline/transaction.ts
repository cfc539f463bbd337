import type { PoolClient } from 'pg';

/**
 * The pipeline's writes run in `inTransaction` (core/db/queryable.ts) and call `lockBatches` first:
 * every writer of a batch (write-back, claim, cancel, expiry) locks the batch row before its
 * documents, the same order as the API's cancel, so they never deadlock.
 */
export { inTransaction as withTransaction } from '../db/queryable';

/** Locks batch rows in id order (see above). */
export async function lockBatches(client: PoolClient, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`SELECT id FROM batches WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, [
    [...new Set(ids)],
  ]);
}
