import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { TRAINING_QUEUE } from '../../src/core/queue/catalog';
import { createRedis } from '../../src/core/redis';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * `POST/GET /v1/training_jobs` through HTTP without a worker: the upload is validated line by line
 * like a batch upload (same codes, 1-based lines), parameters and label counts are refused with
 * stable codes before anything is stored, the job is queued on the `training` queue, listed with a
 * cursor, cancelled while queued, and invisible to another tenant.
 */

jest.setTimeout(90_000);

type ErrorBody = {
  error: { code: string; message: string; details?: { line?: number; field?: string; message: string }[] };
};
type Job = Record<string, unknown> & {
  id: string;
  status: string;
  examples: { total: number; labels: Record<string, number> };
};

const ADMIN = 'training-admin-token-0123456789';
let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({
    TRAINING_MIN_EXAMPLES_PER_LABEL: '3',
    MAX_TRAINING_EXAMPLES: '50',
    ADMIN_TOKEN: ADMIN,
  });
});
afterAll(async () => {
  await h?.stop();
});

const lines = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const examples = (n: number, labels = ['pos', 'neg']): { text: string; label: string }[] =>
  Array.from({ length: n }, (_, i) => ({
    text: `example text number ${i}`,
    label: labels[i % labels.length]!,
  }));

const post = (
  query: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  key?: string | null,
) =>
  h.request(`/v1/training_jobs${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body,
    key,
  });

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json<ErrorBody>(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}

async function stored(): Promise<{ jobs: number; examples: number }> {
  const r = await h.db.pool.query<{ j: number; e: number }>(
    `SELECT (SELECT count(*)::int FROM training_jobs) AS j, (SELECT count(*)::int FROM training_examples) AS e`,
  );
  return { jobs: r.rows[0]!.j, examples: r.rows[0]!.e };
}

it('refuses bad lines with their line numbers and codes, like a batch upload, storing nothing', async () => {
  const before = await stored();
  const body =
    lines(examples(6)) +
    '{"text": "no label"}\n' +
    'not json\n' +
    '{"text": "", "label": "pos"}\n' +
    '{"text": "x", "label": 5}\n' +
    '{"text": "x", "label": "pos", "extra": 1}\n' +
    '["array"]\n';
  const res = await post('?model=sent', body);
  const err = await expectError(res, 400, 'INVALID_DOCUMENT');
  expect(err.error.details).toEqual([
    { line: 7, field: 'label', message: 'must be a non-empty string' },
    { line: 8, message: 'is not valid JSON' },
    { line: 9, field: 'text', message: 'must be a non-empty string' },
    { line: 10, field: 'label', message: 'must be a non-empty string' },
    { line: 11, message: 'unknown field(s): extra' },
    { line: 12, message: 'must be a JSON object with "text" and "label" fields' },
  ]);
  // A blank line in the middle is an error with its line, as in batches.
  const blank = await post('?model=sent', lines(examples(3)) + '\n' + lines(examples(3)));
  expect((await expectError(blank, 400, 'INVALID_DOCUMENT')).error.details).toEqual([
    { line: 4, message: 'empty line (blank lines are allowed only at the end)' },
  ]);
  expect(await stored()).toEqual(before);
});

it('refuses bad recipes, hyperparameters and model names before reading the body', async () => {
  const body = lines(examples(10));
  await expectError(await post('?model=sent&recipe=lstm-magic', body), 400, 'UNKNOWN_RECIPE');
  const hp = await expectError(
    await post(`?model=sent&hyperparameters=${encodeURIComponent('{"epochs": 0, "typo": 1}')}`, body),
    400,
    'INVALID_HYPERPARAMETERS',
  );
  expect(hp.error.details?.map((d) => d.field).sort()).toEqual([
    'hyperparameters.epochs',
    'hyperparameters.typo',
  ]);
  await expectError(await post('?model=sent&hyperparameters=%7Bnot', body), 400, 'INVALID_HYPERPARAMETERS');
  await expectError(await post('?model=sent&hyperparameters=%5B1%5D', body), 400, 'INVALID_HYPERPARAMETERS');
  await expectError(await post('', body), 400, 'INVALID_REQUEST');
  await expectError(await post('?model=sent@2', body), 400, 'INVALID_REQUEST');
  await expectError(await post('?model=-bad', body), 400, 'INVALID_REQUEST');
  await expectError(await post('?model=a&model=b', body), 400, 'INVALID_REQUEST');
  await expectError(await post('?model=sent&task=classification', body), 400, 'INVALID_REQUEST');
  // A shared model's name cannot be taken.
  await expectError(await post('?model=spam-classifier', body), 409, 'MODEL_NAME_TAKEN');
  await expectError(await post('?model=sent&webhook_url=ftp://x', body), 400, 'INVALID_WEBHOOK_URL');
  await expectError(
    await post('?model=sent&webhook_url=http://169.254.169.254/hook', body),
    400,
    'INVALID_WEBHOOK_URL',
  );
  await expectError(
    await post('?model=sent', body, { 'content-type': 'text/csv' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  expect(await stored()).toEqual({ jobs: 0, examples: 0 });
});

it('refuses fewer than 2 labels, too few examples per label, and too many examples', async () => {
  const one = await expectError(
    await post('?model=sent', lines(examples(10, ['pos']))),
    400,
    'INSUFFICIENT_TRAINING_DATA',
  );
  expect(one.error.message).toMatch(/at least 2 labels/);
  const few = await expectError(
    await post('?model=sent', lines([...examples(10), { text: 'meh', label: 'neutral' }])),
    400,
    'INSUFFICIENT_TRAINING_DATA',
  );
  expect(few.error.details).toEqual([
    { field: 'label', message: 'label "neutral" has 1 example(s), fewer than 3' },
  ]);
  await expectError(await post('?model=sent', ''), 400, 'INSUFFICIENT_TRAINING_DATA');
  await expectError(await post('?model=sent', lines(examples(51))), 413, 'PAYLOAD_TOO_LARGE');
  expect(await stored()).toEqual({ jobs: 0, examples: 0 });
});

it('stores a valid upload (also gzip), queues it, lists it with a cursor, and hides it from other tenants', async () => {
  const res = await post(
    `?model=sent&hyperparameters=${encodeURIComponent('{"epochs": 3, "seed": 7}')}`,
    lines(examples(12)),
  );
  expect(res.status).toBe(201);
  const job = await json<Job>(res);
  expect(res.headers.get('location')).toBe(`/v1/training_jobs/${job.id}`);
  expect(job).toMatchObject({
    object: 'training_job',
    status: 'queued',
    model_name: 'sent',
    model: null,
    recipe: 'embedding-pooling',
    examples: { total: 12, labels: { pos: 6, neg: 6 } },
    progress: null,
    error: null,
    attempts: 0,
    cancel_requested: false,
  });
  expect(job.hyperparameters).toMatchObject({ epochs: 3, seed: 7 });
  expect(job.id).toMatch(/^tj_[0-9a-z]+$/);
  const gz = await post('?model=sent2', gzipSync(lines(examples(9, ['a', 'b', 'c']))), {
    'content-encoding': 'gzip',
  });
  expect(gz.status).toBe(201);
  const job2 = await json<Job>(gz);
  expect(job2.examples).toEqual({ total: 9, labels: { a: 3, b: 3, c: 3 } });

  // Examples are stored in upload order, one row each.
  const rows = await h.db.pool.query<{ seq: number; label: string }>(
    'SELECT seq, label FROM training_examples WHERE job_id = $1 ORDER BY seq',
    [job.id],
  );
  expect(rows.rows.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));

  // The BullMQ job: id = the training job's id, on the training queue.
  const redis = createRedis(h.env.redisUrl);
  const queue = new Queue(TRAINING_QUEUE, { connection: redis, prefix: h.env.queuePrefix });
  try {
    const q = await queue.getJob(job.id);
    expect(q?.data).toEqual({ trainingJobId: job.id });
  } finally {
    await queue.close();
    redis.disconnect();
  }

  expect((await json<Job>(await h.request(`/v1/training_jobs/${job.id}`))).id).toBe(job.id);
  const page1 = await json<{ data: Job[]; has_more: boolean; next_cursor: string }>(
    await h.request('/v1/training_jobs?limit=1'),
  );
  expect(page1.data.map((j) => j.id)).toEqual([job2.id]);
  expect(page1.has_more).toBe(true);
  const page2 = await json<{ data: Job[]; has_more: boolean; next_cursor: string | null }>(
    await h.request(`/v1/training_jobs?limit=1&after=${page1.next_cursor}`),
  );
  expect(page2.data.map((j) => j.id)).toEqual([job.id]);
  const queued = await json<{ data: Job[] }>(await h.request('/v1/training_jobs?status=queued'));
  expect(queued.data).toHaveLength(2);
  await expectError(await h.request('/v1/training_jobs?status=done'), 400, 'INVALID_REQUEST');
  await expectError(await h.request('/v1/training_jobs?after=bogus'), 400, 'INVALID_REQUEST');
  await expectError(await h.request('/v1/training_jobs?limit=0'), 400, 'INVALID_REQUEST');

  const other = await h.newTenant('other-tenant');
  await expectError(await h.request(`/v1/training_jobs/${job.id}`, { key: other.key }), 404, 'NOT_FOUND');
  await expectError(
    await h.request(`/v1/training_jobs/${job.id}/cancel`, { method: 'POST', key: other.key }),
    404,
    'NOT_FOUND',
  );
  expect(
    (await json<{ data: Job[] }>(await h.request('/v1/training_jobs', { key: other.key }))).data,
  ).toEqual([]);
  await expectError(await h.request('/v1/training_jobs/tj_nope'), 404, 'NOT_FOUND');
  await expectError(await h.request('/v1/training_jobs', { key: null }), 401, 'UNAUTHORIZED');
});

it('cancels a queued job at once (idempotent), and refuses cancelling a finished one', async () => {
  const job = await json<Job>(await post('?model=to-cancel', lines(examples(8))));
  const res = await h.request(`/v1/training_jobs/${job.id}/cancel`, { method: 'POST' });
  expect(res.status).toBe(202);
  const cancelled = await json<Job>(res);
  expect(cancelled).toMatchObject({ status: 'cancelled', model: null });
  expect(cancelled.finished_at).toEqual(expect.any(String));
  const again = await h.request(`/v1/training_jobs/${job.id}/cancel`, { method: 'POST' });
  expect(again.status).toBe(202);
  expect((await json<Job>(again)).status).toBe('cancelled');

  await h.db.pool.query(`UPDATE training_jobs SET status = 'succeeded', finished_at = now() WHERE id = $1`, [
    (await json<Job>(await post('?model=done', lines(examples(8))))).id,
  ]);
  const done = (
    await h.db.pool.query<{ id: string }>(`SELECT id FROM training_jobs WHERE status = 'succeeded'`)
  ).rows[0]!.id;
  await expectError(
    await h.request(`/v1/training_jobs/${done}/cancel`, { method: 'POST' }),
    409,
    'TRAINING_JOB_FINISHED',
  );
});

it('shows training jobs of every tenant in the ops dashboard, with status and progress', async () => {
  const job = await json<Job>(await post('?model=dash-model', lines(examples(8))));
  await h.db.pool.query(
    `UPDATE training_jobs SET status = 'running', progress = $2::jsonb, backend = 'cpu' WHERE id = $1`,
    [
      job.id,
      JSON.stringify({
        epoch: 2,
        epochs: 5,
        loss: 0.4321,
        val_loss: 0.5,
        val_accuracy: 0.75,
        eta_seconds: 30,
      }),
    ],
  );
  const auth = { authorization: `Bearer ${ADMIN}` };
  const page = await fetch(`${h.url}/admin/training`, { headers: { ...auth, accept: 'text/html' } });
  expect(page.status).toBe(200);
  const text = await page.text();
  const row = text.slice(text.indexOf(`data-training-job-id="${job.id}"`));
  expect(row).toContain('dash-model');
  expect(row).toMatch(/status-running/);
  expect(row).toContain('2 / 5');
  expect(row).toContain('75.0%');
  expect(row).toContain('acme');
  const api = await fetch(`${h.url}/admin/api/training_jobs?status=running`, { headers: auth });
  const body = await json<{ data: (Job & { tenant: { name: string } })[] }>(api);
  expect(body.data.map((j) => [j.id, j.tenant.name, j.progress])).toEqual([
    [job.id, 'acme', expect.objectContaining({ epoch: 2, epochs: 5 })],
  ]);
  expect((await fetch(`${h.url}/admin/api/training_jobs?status=nope`, { headers: auth })).status).toBe(400);
  expect((await fetch(`${h.url}/admin/training`)).status).not.toBe(200);
});
