import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in a transaction on one pooled client, for the pipeline's writes:
 * - the client has an `error` listener while checked out (a connection cut between two queries
 *   must fail this transaction, not crash the process with an unhandled `error` event);
 * - a client whose transaction failed is destroyed, not returned to the pool;
 * - `lockBatches` first takes the batch rows (`FOR NO KEY UPDATE`, in id order), so every writer of
 *   a batch (write-back, claim, cancel, expiry) locks the batch row before its documents: the same
 *   order as the API's cancel, so they never deadlock.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure ??= err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    failure ??= err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.release(failure);
  }
}

/** Locks batch rows in id order (see {@link withTransaction}). */
export async function lockBatches(client: PoolClient, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`SELECT id FROM batches WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, [
    [...new Set(ids)],
  ]);
}
