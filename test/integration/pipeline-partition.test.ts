import { Database } from '../../src/core/db/database';
import { inTransaction } from '../../src/core/db/queryable';
import { createLogger } from '../../src/core/logger';
import { lockBatches } from '../../src/core/pipeline/transaction';
import { WorkerProcess } from '../../src/workers/worker-process';
import { TcpProxy } from '../support/tcp-proxy';
import {
  auditBatch,
  createHarness,
  installFinishAudit,
  makeDocuments,
  waitForBatchEnd,
  waitForFinished,
} from './pipeline-fixtures';
import type { PipelineHarness } from './pipeline-fixtures';

/**
 * Silent Postgres connections: a network partition, or a NAT / load balancer that dropped its flows
 * without a reset, leaves connections that neither fail nor answer (TcpProxy `blackhole()`). A cut
 * connection fails at once; a silent one used to hang its query forever, so a worker's single-flight
 * claim or write never settled: its chunk jobs held their slots (their BullMQ locks kept being
 * renewed) and later batches stayed `queued`. And Postgres kept the silent connections'
 * transactions open, with the batch row locks that every claim and write takes first.
 */

jest.setTimeout(180_000);

let h: PipelineHarness;
let proxy: TcpProxy;
let proxyUrl: string;

beforeAll(async () => {
  h = await createHarness();
  await installFinishAudit(h.db);
  const u = new URL(h.env.databaseUrl);
  proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
  await proxy.start();
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  proxyUrl = u.toString();
});
afterAll(async () => {
  await proxy?.stop();
  await h?.close();
});

/** Cuts every connection through the proxy (silent ones included) so nothing is left hanging. */
async function cutAll(): Promise<void> {
  await proxy.stop();
  await proxy.start();
}

/** Rejects with `what` if `p` has not settled within `ms` (the bug: it never settles). */
function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} had not settled after ${ms} ms`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

it('a transaction on a connection that goes silent fails after the query timeout, and Postgres releases its locks', async () => {
  const batch = await h.submit({ task: 'classification' }, makeDocuments('classification', 10, 61));
  const db = new Database(proxyUrl, 2, {
    queryTimeoutMs: 1_500,
    statementTimeoutMs: 1_000,
    idleInTransactionTimeoutMs: 1_000,
  });
  try {
    // Holds the batch row lock, then the network goes silent before the next statement.
    const t0 = Date.now();
    const tx = inTransaction(db.pool, async (c) => {
      await lockBatches(c, [batch.id]);
      proxy.blackhole();
      await c.query('SELECT 1');
    });
    await expect(settlesWithin(tx, 15_000, 'the transaction')).rejects.toThrow('Query read timeout');
    const failedAfter = Date.now() - t0;
    // One query timeout, not two: no ROLLBACK is queued behind the unanswered query.
    expect(failedAfter).toBeGreaterThanOrEqual(1_400);
    expect(failedAfter).toBeLessThan(2_900);

    // The server never heard the client go: it ends the transaction by itself
    // (idle_in_transaction_session_timeout) and the batch row can be locked again.
    await inTransaction(h.db.pool, async (c) => {
      await c.query(`SET LOCAL lock_timeout = '20s'`);
      await lockBatches(c, [batch.id]);
    });

    // New connections pass again; the pool discarded the silent one.
    proxy.heal();
    const res = await settlesWithin(db.pool.query<{ one: number }>('SELECT 1 AS one'), 15_000, 'a query');
    expect(res.rows[0]?.one).toBe(1);
    expect(proxy.silentConnections).toBeGreaterThan(0);
  } finally {
    await cutAll();
    await db.close();
  }
});

it('a worker whose Postgres connections all go silent mid-batch finishes that batch and the next ones', async () => {
  const worker = new WorkerProcess(
    h.workerConfig({
      DATABASE_URL: proxyUrl,
      WORKER_TASKS: 'classification',
      WORKER_CONCURRENCY: '2',
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '500',
      RECONCILE_INTERVAL_MS: '1000',
      DB_POOL_SIZE: '4',
      DB_QUERY_TIMEOUT_MS: '2000',
      DB_STATEMENT_TIMEOUT_MS: '1500',
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1000',
    }),
    createLogger('silent'),
    { reconcileMinAgeMs: 0 },
  );
  await worker.start();
  try {
    const total = 3_000;
    const batch = await h.submit({ task: 'classification' }, makeDocuments('classification', total, 62));
    await waitForFinished(h.db, batch.id, 300);
    // Every open connection of the worker goes silent at once (flows dropped); new ones pass.
    proxy.blackhole();
    proxy.heal();
    const later = await h.submit({ task: 'classification' }, makeDocuments('classification', 100, 63));

    const end = await waitForBatchEnd(h.db, batch.id, 90_000);
    expect(end.status).toBe('completed');
    expect(end.counts).toEqual(end.rows);
    expect(await auditBatch(h.db, batch.id)).toEqual({ twice: 0, never: 0, results: total });
    const next = await waitForBatchEnd(h.db, later.id, 60_000);
    expect(next.status).toBe('completed');
    expect(next.rows.completed).toBe(100);
    // The worker did meet silent connections (the proxy still holds them).
    expect(proxy.silentConnections).toBeGreaterThan(0);
  } finally {
    await cutAll();
    await worker.stop();
  }
});
