import { Client } from 'pg';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { TRAINING_CAP_LOCK_CLASS } from '../../src/core/training-jobs/create-training-job';
import { WorkerProcess } from '../../src/workers/worker-process';
import { loadUciSentences } from '../support/uci-sentences';
import { waitFor } from '../support/wait-for';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * The limits and the data lifecycle of training jobs, through HTTP against real Postgres and Redis:
 * - training submissions take from the tenant's `RATE_LIMIT_PER_MINUTE` budget, shared with batch
 *   submissions (429 RATE_LIMITED with Retry-After, nothing stored);
 * - `MAX_ACTIVE_TRAINING_JOBS` caps a tenant's queued + running jobs (429
 *   TOO_MANY_ACTIVE_TRAINING_JOBS), also when concurrent uploads all passed the early check;
 * - the uploaded examples are deleted when a job ends (cancelled, failed for good, succeeded), and a
 *   job a worker died on is retried with its examples still there.
 */

jest.setTimeout(240_000);

type ErrorBody = { error: { code: string; message: string } };
type Job = {
  id: string;
  status: string;
  model: string | null;
  attempts: number;
  error: { code: string } | null;
  metrics: { train_size?: number; validation_size?: number } | null;
  examples: { total: number };
};

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({ MAX_ACTIVE_TRAINING_JOBS: '2', TRAINING_MIN_EXAMPLES_PER_LABEL: '3' });
});
afterAll(async () => {
  await h?.stop();
});

const lines = (n: number): string =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ text: `example ${i}`, label: i % 2 ? 'a' : 'b' }),
  ).join('\n') + '\n';

const postTraining = (harness: ApiHarness, model: string, body: string, key?: string) =>
  harness.request(`/v1/training_jobs?model=${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
    key,
  });

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json<ErrorBody>(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}

async function storedFor(
  harness: ApiHarness,
  tenantId: string,
): Promise<{ jobs: number; examples: number; batches: number }> {
  const r = await harness.db.pool.query<{ j: number; e: number; b: number }>(
    `SELECT (SELECT count(*)::int FROM training_jobs WHERE tenant_id = $1) AS j,
            (SELECT count(*)::int FROM training_examples e JOIN training_jobs t ON t.id = e.job_id
              WHERE t.tenant_id = $1) AS e,
            (SELECT count(*)::int FROM batches WHERE tenant_id = $1) AS b`,
    [tenantId],
  );
  return { jobs: r.rows[0]!.j, examples: r.rows[0]!.e, batches: r.rows[0]!.b };
}

async function examplesOf(id: string): Promise<number> {
  const r = await h.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM training_examples WHERE job_id = $1',
    [id],
  );
  return r.rows[0]!.n;
}

it('caps active training jobs per tenant with 429 TOO_MANY_ACTIVE_TRAINING_JOBS; a cancel frees a place and deletes its examples', async () => {
  const t = await h.newTenant('trainer-busy');
  const a = await postTraining(h, 'm', lines(10), t.key);
  const b = await postTraining(h, 'm', lines(12), t.key);
  expect([a.status, b.status]).toEqual([201, 201]);
  const before = await storedFor(h, t.tenantId);
  expect(before).toEqual({ jobs: 2, examples: 22, batches: 0 });
  const over = await postTraining(h, 'm', lines(8), t.key);
  const err = await expectError(over, 429, 'TOO_MANY_ACTIVE_TRAINING_JOBS');
  expect(err.error.message).toContain('at most 2');
  expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(await storedFor(h, t.tenantId)).toEqual(before);
  // Another tenant has its own cap.
  const other = await h.newTenant('trainer-other');
  expect((await postTraining(h, 'm', lines(8), other.key)).status).toBe(201);

  // Cancelling a queued job ends it: its examples go in the same transaction, the job stays readable.
  const first = await json<Job>(a);
  expect(await examplesOf(first.id)).toBe(10);
  const cancel = await h.request(`/v1/training_jobs/${first.id}/cancel`, { method: 'POST', key: t.key });
  expect(cancel.status).toBe(202);
  expect(await json<Job>(cancel)).toMatchObject({ status: 'cancelled', examples: { total: 10 } });
  expect(await examplesOf(first.id)).toBe(0);
  const got = await json<Job>(await h.request(`/v1/training_jobs/${first.id}`, { key: t.key }));
  expect(got).toMatchObject({ status: 'cancelled', examples: { total: 10 } });
  // A place is free again.
  expect((await postTraining(h, 'm', lines(8), t.key)).status).toBe(201);
  expect(await storedFor(h, t.tenantId)).toEqual({ jobs: 3, examples: 12 + 8, batches: 0 });
});

it('never lets concurrent training uploads overshoot the cap, even when all passed the early check', async () => {
  const t = await h.newTenant('trainer-racers');
  // Hold the tenant's training cap lock: every upload passes the early check (0 active), writes its job
  // and examples, then waits for the lock at commit; released, they commit one at a time.
  const holder = new Client({ connectionString: h.env.databaseUrl });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [TRAINING_CAP_LOCK_CLASS, t.tenantId]);
    const responses = Array.from({ length: 4 }, (_, i) => postTraining(h, `race${i}`, lines(6 + i), t.key));
    await waitFor(
      async () =>
        (
          await h.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
          )
        ).rows[0]!.n === 4,
      'four training uploads waiting for the cap lock at commit',
    );
    await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', [TRAINING_CAP_LOCK_CLASS, t.tenantId]);
    const results = await Promise.all(
      (await Promise.all(responses)).map(async (r) => ({
        status: r.status,
        body: await json<Job & ErrorBody>(r),
      })),
    );
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(created).toHaveLength(2);
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(
      Array.from({ length: 2 }, () => [429, 'TOO_MANY_ACTIVE_TRAINING_JOBS']),
    );
    // Only the admitted jobs and their examples exist.
    expect(await storedFor(h, t.tenantId)).toEqual({
      jobs: 2,
      examples: created.reduce((n, r) => n + r.body.examples.total, 0),
      batches: 0,
    });
  } finally {
    await holder.end();
  }
});

it('counts training submissions against RATE_LIMIT_PER_MINUTE together with batches: 429 RATE_LIMITED, nothing stored', async () => {
  // The window is the UTC minute: start early in one so the test does not straddle two.
  const sec = new Date().getUTCSeconds();
  if (sec >= 45) await new Promise((r) => setTimeout(r, (61 - sec) * 1000));
  const h2 = await startApi({ RATE_LIMIT_PER_MINUTE: '3', TRAINING_MIN_EXAMPLES_PER_LABEL: '3' });
  try {
    const batch = () =>
      h2.request('/v1/batches?task=classification', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: '{"text":"hello"}\n',
      });
    expect((await batch()).status).toBe(201);
    expect((await postTraining(h2, 'rl', lines(8))).status).toBe(201);
    expect((await batch()).status).toBe(201);
    const before = await storedFor(h2, h2.tenantId);
    expect(before).toEqual({ jobs: 1, examples: 8, batches: 2 });
    // The fourth submission of the minute: a training upload, refused before its body is stored.
    const limited = await postTraining(h2, 'rl', lines(8));
    const body = await expectError(limited, 429, 'RATE_LIMITED');
    expect(body.error.message).toContain('3 per minute');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Batches share the budget.
    await expectError(await batch(), 429, 'RATE_LIMITED');
    expect(await storedFor(h2, h2.tenantId)).toEqual(before);
    // Another tenant has its own budget.
    const other = await h2.newTenant('rl-other');
    expect((await postTraining(h2, 'rl', lines(8), other.key)).status).toBe(201);
  } finally {
    await h2.stop();
  }
});

it('keeps the examples of a job a worker died on (retried, then succeeds), and deletes them at a final end', async () => {
  const all = loadUciSentences();
  const pos = all.filter((s) => s.label === 'positive').slice(0, 100);
  const neg = all.filter((s) => s.label === 'negative').slice(0, 100);
  const upload =
    pos
      .flatMap((p, i) => [p, neg[i]!])
      .map((s) => JSON.stringify({ text: s.text, label: s.label }))
      .join('\n') + '\n';
  const hp = encodeURIComponent(JSON.stringify({ epochs: 2, seed: 5, pretrained_words: 1000 }));
  const submit = async (model: string): Promise<Job> => {
    const res = await h.request(`/v1/training_jobs?model=${model}&hyperparameters=${hp}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: upload,
    });
    expect(res.status).toBe(201);
    return json<Job>(res);
  };
  // Before any worker runs: one job as a worker left it when it was killed mid-training (running,
  // one start counted), one that was started (and interrupted) as often as allowed.
  const crashed = await submit('crashed');
  const givenUp = await submit('given-up');
  await h.db.pool.query(
    `UPDATE training_jobs SET status = 'running', attempts = 1, started_at = now() WHERE id = $1`,
    [crashed.id],
  );
  await h.db.pool.query(
    `UPDATE training_jobs SET status = 'running', attempts = 3, started_at = now() WHERE id = $1`,
    [givenUp.id],
  );
  expect([await examplesOf(crashed.id), await examplesOf(givenUp.id)]).toEqual([200, 200]);
  // The other tests' queued jobs are not for this worker (their queue entries find no row and end).
  await h.db.pool.query('DELETE FROM training_jobs WHERE id <> ALL($1)', [[crashed.id, givenUp.id]]);

  const worker = new WorkerProcess(
    loadConfig('worker', { ...h.env.env, TF_BACKEND: 'cpu', WORKER_TASKS: 'classification' }),
    createLogger('silent'),
  );
  await worker.start();
  try {
    const ended = async (id: string): Promise<Job> =>
      (await waitFor(
        async () => {
          const j = await json<Job>(await h.request(`/v1/training_jobs/${id}`));
          return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
        },
        `training job ${id} to end`,
        180_000,
        200,
      )) as Job;
    // Failed for good (interrupted too often): its examples are gone.
    const failed = await ended(givenUp.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'TRAINING_INTERRUPTED' } });
    expect(await examplesOf(givenUp.id)).toBe(0);
    // The crashed job is retried on its stored examples (all 200 used), succeeds, then they are gone.
    const done = await ended(crashed.id);
    expect(done).toMatchObject({
      status: 'succeeded',
      model: 'crashed@1',
      attempts: 2,
      examples: { total: 200 },
    });
    expect((done.metrics?.train_size ?? 0) + (done.metrics?.validation_size ?? 0)).toBe(200);
    expect(await examplesOf(crashed.id)).toBe(0);
  } finally {
    await worker.stop();
  }
  // Nothing of any ended job is left in training_examples.
  const left = await h.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM training_examples e JOIN training_jobs j ON j.id = e.job_id
      WHERE j.status NOT IN ('queued', 'running')`,
  );
  expect(left.rows[0]!.n).toBe(0);
});
