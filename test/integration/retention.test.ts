import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { waitFor } from '../support/wait-for';
import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Retention (issue 17): with RETENTION_DAYS set to 3 seconds on the API and the worker, a finished
 * batch reports `data_expires_at` = finished_at + 3 s and is deleted with its rows by the worker's
 * maintenance loop after that; an unfinished batch of the same age stays.
 */

jest.setTimeout(180_000);

const RETENTION_S = 3;
const RETENTION_DAYS = String(RETENTION_S / 86_400);

let h: ApiHarness;
let worker: WorkerProcess;

beforeAll(async () => {
  h = await startApi({ RETENTION_DAYS });
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'wasm',
      WORKER_TASKS: 'classification',
      DB_POOL_SIZE: '4',
      RECONCILE_INTERVAL_MS: '300',
      RETENTION_DAYS,
    }),
    createLogger('silent'),
  );
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
});

async function rows(id: string): Promise<{ batches: number; documents: number }> {
  const n = async (sql: string): Promise<number> =>
    (await h.db.pool.query<{ n: number }>(sql, [id])).rows[0]?.n ?? -1;
  return {
    batches: await n('SELECT count(*)::int AS n FROM batches WHERE id = $1'),
    documents: await n('SELECT count(*)::int AS n FROM documents WHERE batch_id = $1'),
  };
}

async function submit(task: string, n: number): Promise<{ id: string }> {
  const res = await h.request(`/v1/batches?task=${task}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ndjson(n, { text: (i) => `Free money now, click here ${i}. Meeting at noon.` }),
  });
  expect(res.status).toBe(201);
  return json(res);
}

it('deletes finished batches after RETENTION_DAYS and keeps unfinished ones', async () => {
  // Never processed here (the worker pulls classification only): queued for the whole test.
  const pending = await submit('summarization', 40);
  const finished = await submit('classification', 300);
  const done = await waitFor<Record<string, unknown> | null>(
    async () => {
      const b = await json(await h.request(`/v1/batches/${finished.id}`));
      return b.status === 'completed' ? b : null;
    },
    'the classification batch to complete',
    120_000,
  ).then((b) => b as Record<string, unknown>);
  expect(Date.parse(done.data_expires_at as string) - Date.parse(done.finished_at as string)).toBe(
    RETENTION_S * 1000,
  );
  // Results are there until the data expires.
  const results = await h.request(`/v1/batches/${finished.id}/results`);
  expect(results.status).toBe(200);
  expect((await results.text()).trim().split('\n')).toHaveLength(300);

  await waitFor(
    async () => (await h.request(`/v1/batches/${finished.id}`)).status === 404,
    'retention to delete the finished batch',
    60_000,
  );
  expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(done.data_expires_at as string));
  await waitFor(async () => (await rows(finished.id)).batches === 0, 'its rows to be purged', 30_000);
  expect(await rows(finished.id)).toEqual({ batches: 0, documents: 0 });

  // The unfinished batch, older than the retention, is untouched.
  const still = await json(await h.request(`/v1/batches/${pending.id}`));
  expect(still).toMatchObject({ status: 'queued', data_expires_at: null, counts: { total: 40, queued: 40 } });
  expect(await rows(pending.id)).toEqual({ batches: 1, documents: 40 });
});
