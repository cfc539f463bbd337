import { cancelBatch } from '../../src/core/batches';
import { createLogger } from '../../src/core/logger';
import { claimChunks } from '../../src/core/pipeline/chunk-store';
import { chunkRetries } from '../../src/core/pipeline/pipeline-metrics';
import { WorkerProcess } from '../../src/workers/worker-process';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';
import {
  auditBatch,
  batchState,
  createHarness,
  installFinishAudit,
  makeDocuments,
  waitForBatchEnd,
  waitForFinished,
} from './pipeline-fixtures';
import type { PipelineHarness } from './pipeline-fixtures';

/**
 * Batch state machine through the pipeline: cancel mid-batch, expiry mid-batch and of a batch no
 * worker touched, and chunk retries across a Postgres outage.
 */

jest.setTimeout(300_000);

let h: PipelineHarness;
let worker: WorkerProcess;

beforeAll(async () => {
  h = await createHarness();
  await installFinishAudit(h.db);
  worker = new WorkerProcess(
    h.workerConfig({
      WORKER_TASKS: 'summarization',
      WORKER_CONCURRENCY: '2',
      RECONCILE_INTERVAL_MS: '500',
    }),
    createLogger('silent'),
    { reconcileMinAgeMs: 60_000 },
  );
  await worker.start();
});
afterAll(async () => {
  await worker?.stop();
  await h?.close();
});

it('cancel mid-batch: finished documents stay, the rest become cancelled, the batch ends cancelled', async () => {
  const total = 8_000;
  const batch = await h.submit({ task: 'summarization' }, makeDocuments('summarization', total, 31));
  await waitForFinished(h.db, batch.id, 500);
  const res = await cancelBatch(h.deps, h.tenantId, batch.id);
  expect(['cancelling', 'cancelled']).toContain(res.status);
  const end = await waitForBatchEnd(h.db, batch.id, 60_000);
  expect(end.status).toBe('cancelled');
  expect(end.counts).toEqual(end.rows);
  expect(end.rows.completed).toBeGreaterThanOrEqual(500);
  expect(end.rows.cancelled).toBeGreaterThan(0);
  expect(end.rows.completed + end.rows.cancelled + end.rows.failed).toBe(total);
  expect(await auditBatch(h.db, batch.id)).toMatchObject({ twice: 0, never: 0 });
  // No result appears after the batch ended.
  const after = await auditBatch(h.db, batch.id);
  expect(after.results).toBe(end.rows.completed);
});

it('expiry mid-batch: when completion_window passes, unfinished documents become expired', async () => {
  const total = 8_000;
  const batch = await h.submit(
    { task: 'summarization', completion_window: '1h' },
    makeDocuments('summarization', total, 32),
  );
  await waitForFinished(h.db, batch.id, 500);
  // The clock moves past the window (the batch's deadline is brought to now).
  await h.db.pool.query(`UPDATE batches SET expires_at = now() WHERE id = $1`, [batch.id]);
  const end = await waitForBatchEnd(h.db, batch.id, 60_000);
  expect(end.status).toBe('expired');
  expect(end.counts).toEqual(end.rows);
  expect(end.rows.completed).toBeGreaterThanOrEqual(500);
  expect(end.rows.expired).toBeGreaterThan(0);
  expect(end.rows.completed + end.rows.expired + end.rows.failed).toBe(total);
  expect(await auditBatch(h.db, batch.id)).toMatchObject({ twice: 0, never: 0 });
});

it('a batch whose window passed before any chunk ran: every document expires, none runs', async () => {
  const batch = await h.submit(
    { task: 'summarization', completion_window: '1h' },
    makeDocuments('summarization', 50, 33),
  );
  // Whichever comes first, a chunk claim or the expiry sweep, settles the documents as expired.
  await h.db.pool.query(`UPDATE batches SET expires_at = now() - interval '1 second' WHERE id = $1`, [
    batch.id,
  ]);
  const end = await waitForBatchEnd(h.db, batch.id, 30_000);
  expect(end.status).toBe('expired');
  expect(end.counts).toEqual(end.rows);
  expect(end.rows.expired + end.rows.completed).toBe(50);
  expect(end.rows.expired).toBeGreaterThan(0);
});

it('a chunk that throws on every attempt is retried with backoff, then its unfinished documents fail', async () => {
  // Fault injection in this test's own database: writing a result for the document 'poison' fails.
  await h.db.pool.query(`
    CREATE OR REPLACE FUNCTION poison_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'injected write failure'; END $$;
    CREATE TRIGGER poison_trg BEFORE UPDATE ON documents FOR EACH ROW
      WHEN (NEW.client_id = 'poison' AND NEW.status = 'completed') EXECUTE FUNCTION poison_fn();
  `);
  try {
    const docs = makeDocuments('summarization', 200, 35);
    docs[120] = { id: 'poison', text: docs[120]!.text };
    const started = Date.now();
    const batch = await h.submit({ task: 'summarization' }, docs);
    const end = await waitForBatchEnd(h.db, batch.id, 60_000);
    // Three attempts with exponential backoff (1 s, 2 s) before giving up.
    expect(Date.now() - started).toBeGreaterThan(2_900);
    expect(end.status).toBe('completed');
    expect(end.counts).toEqual(end.rows);
    expect(end.rows.completed + end.rows.failed).toBe(200);
    const poison = await h.db.pool.query(
      `SELECT status::text, error, attempts FROM documents WHERE batch_id = $1 AND client_id = 'poison'`,
      [batch.id],
    );
    expect(poison.rows[0]).toEqual({
      status: 'failed',
      error: { code: 'PROCESSING_FAILED', message: expect.any(String) },
      attempts: 3,
    });
    expect(await auditBatch(h.db, batch.id)).toMatchObject({ twice: 0, never: 0 });
  } finally {
    await h.db.pool.query(`DROP TRIGGER IF EXISTS poison_trg ON documents`);
  }
});

it('a document claimed too many times (its workers kept dying) fails instead of looping', async () => {
  // This file's worker pulls summarization only: the classification batch waits for a direct claim.
  const batch = await h.submit({ task: 'classification' }, makeDocuments('classification', 20, 36));
  await h.db.pool.query(`UPDATE documents SET attempts = 6 WHERE batch_id = $1 AND seq = 5`, [batch.id]);
  const [claim] = await claimChunks(h.db.pool, [{ batchId: batch.id, seqFrom: 1, seqTo: 20 }], 6);
  expect(claim?.kind).toBe('run');
  if (claim?.kind !== 'run') return;
  expect(claim.docs.map((d) => d.seq)).toEqual([1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 6)]);
  const state = await batchState(h.db, batch.id);
  expect(state).toMatchObject({ status: 'running', rows: { running: 19, failed: 1 } });
  expect(state.counts).toEqual(state.rows);
  const doc = await h.db.pool.query(`SELECT error, attempts FROM documents WHERE batch_id = $1 AND seq = 5`, [
    batch.id,
  ]);
  expect(doc.rows[0]).toEqual({
    error: { code: 'TOO_MANY_ATTEMPTS', message: expect.any(String) },
    attempts: 6,
  });
  await cancelBatch(h.deps, h.tenantId, batch.id);
});

/** Chunk retries counted by this process's workers (the pipeline metric). */
async function retries(): Promise<number> {
  return (await chunkRetries.get()).values.reduce((n, v) => n + v.value, 0);
}

it('a Postgres outage mid-batch: failed chunks are retried with backoff and every document finishes once', async () => {
  const proxy = new TcpProxy('127.0.0.1', Number(new URL(h.env.databaseUrl).port || 5432));
  await proxy.start();
  const url = new URL(h.env.databaseUrl);
  url.port = String(proxy.port);
  const flaky = new WorkerProcess(
    h.workerConfig({
      DATABASE_URL: url.toString(),
      WORKER_TASKS: 'summarization',
      WORKER_CONCURRENCY: '2',
      CHUNK_ATTEMPTS: '5',
      RECONCILE_INTERVAL_MS: '600000',
    }),
    createLogger('silent'),
  );
  await worker.stop(); // only the worker behind the proxy runs now
  await flaky.start();
  try {
    const total = 4_000;
    const batch = await h.submit({ task: 'summarization' }, makeDocuments('summarization', total, 34));
    await waitForFinished(h.db, batch.id, 300);
    const retriesBefore = await retries();
    await proxy.stop();
    // Postgres stays unreachable until a chunk has failed and been scheduled for a retry.
    await waitFor(async () => (await retries()) > retriesBefore, 'a chunk retry', 60_000);
    await proxy.start();
    const end = await waitForBatchEnd(h.db, batch.id, 120_000);
    expect(end.status).toBe('completed');
    expect(end.counts).toEqual(end.rows);
    expect(end.rows.completed).toBe(total);
    expect(await auditBatch(h.db, batch.id)).toEqual({ twice: 0, never: 0, results: total });
    // Chunks failed during the outage (claim or write-back) and were retried by BullMQ.
    expect(await retries()).toBeGreaterThan(retriesBefore);
    expect((await batchState(h.db, batch.id)).status).toBe('completed');
  } finally {
    await flaky.stop();
    await proxy.stop();
  }
});
