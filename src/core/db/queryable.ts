import type { Pool, PoolClient } from 'pg';

/** A pool or a client inside a transaction. */
export type Queryable = Pool | PoolClient;

/**
 * Runs `fn` in a transaction on one pooled client; rolls back on error.
 * - The client has an `error` listener while checked out: a connection cut between two queries
 *   fails this transaction instead of crashing the process with an unhandled `error` event.
 * - A client whose transaction failed is destroyed, not returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
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
