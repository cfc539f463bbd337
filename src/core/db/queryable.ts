import type { Pool, PoolClient, QueryResultRow } from 'pg';

/** A pool or a client inside a transaction. */
export type Queryable = Pool | PoolClient;

/**
 * The error pg gives a query that got no answer within `query_timeout`: the connection went silent
 * and its next queries would wait behind the unanswered one.
 */
export function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

/**
 * Runs `fn` in a transaction on one pooled client; rolls back on error.
 * - The client has an `error` listener while checked out: a connection cut between two queries
 *   fails this transaction instead of crashing the process with an unhandled `error` event.
 * - A client whose transaction failed is destroyed, not returned to the pool.
 * - On a connection that is broken or silent (a query timed out), no ROLLBACK is sent: it would
 *   wait behind the unanswered query for another `query_timeout`. Closing the connection rolls
 *   back; a server that no longer hears from it ends the transaction after
 *   `idle_in_transaction_session_timeout`.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  let broken = false;
  const onError = (err: Error): void => {
    broken = true;
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
    if (!broken && !isQueryTimeout(err)) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.release(failure);
  }
}

/**
 * What runs a statement of a transaction: a pooled client, or an upload's connection in an ingest
 * thread (`ThreadedValidator`), whose results cross threads as plain rows.
 */
export interface SqlClient {
  query<R extends QueryResultRow = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
    text: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}
