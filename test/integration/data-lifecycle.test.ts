import { deleteBatch } from '../../src/core/batches';
import type { BatchDeps } from '../../src/core/batches';
import net from 'node:net';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { ConflictError, DocBatchClient, NotFoundError } from '@docbatch/sdk';
import { WorkerProcess } from '../../src/workers/worker-process';
import { hasPromtool, promtoolCheck } from '../support/promtool';
import { waitFor } from '../support/wait-for';
import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { inheritedEnv, runCliProcess } from './cli-harness';
import { TestReceiver } from './webhooks-receiver';

/**
 * Batch deletion (issue 17) as a user drives it: over HTTP, with the SDK and with the CLI, against
 * the real API and a real worker (classification on the wasm backend) with Postgres and Redis.
 */

jest.setTimeout(180_000);

let h: ApiHarness;
let worker: WorkerProcess;
let receiver: TestReceiver;
let metricsPort: number;
const ADMIN_TOKEN = 'lifecycle-admin-token-0123456789';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  // The receiver refuses every event: the delivery keeps attempts to delete with the batch.
  receiver.on('/refuse', () => ({ status: 500 }));
  h = await startApi({ WEBHOOK_ALLOWLIST: '127.0.0.1/32', CHUNK_SIZE: '64', ADMIN_TOKEN });
  metricsPort = await freePort();
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'wasm',
      // Only classification: batches of other tasks stay queued (an unfinished batch to refuse).
      WORKER_TASKS: 'classification',
      WORKER_CONCURRENCY: '2',
      CHUNK_SIZE: '64',
      DB_POOL_SIZE: '4',
      RECONCILE_INTERVAL_MS: '300',
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_RETRY_SCHEDULE: '3600',
      WEBHOOK_RELAY_INTERVAL_MS: '50',
      WORKER_METRICS_PORT: String(metricsPort),
    }),
    createLogger('silent'),
  );
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  await receiver?.stop();
});

const SPAM = [
  'WIN a FREE prize now!!! Click here to claim your cash reward',
  'Hi Bob, the meeting moved to 3pm, see you in the small room.',
  'Cheap meds online, no prescription, order today and save 90%',
  'Can you send me the quarterly report before Friday? Thanks, Anna',
];

function spamNdjson(n: number): string {
  return ndjson(n, { text: (i) => `${SPAM[i % SPAM.length]!} (${i})` });
}

async function submit(
  task: string,
  body: string,
  query = '',
  key?: string,
): Promise<Record<string, unknown> & { id: string }> {
  const res = await h.request(`/v1/batches?task=${task}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
    ...(key ? { key } : {}),
  });
  expect(res.status).toBe(201);
  return json(res);
}

async function waitForStatus(id: string, statuses: string[], key?: string): Promise<Record<string, unknown>> {
  return waitFor<Record<string, unknown> | null>(
    async () => {
      const b = await json(await h.request(`/v1/batches/${id}`, key ? { key } : {}));
      return statuses.includes(b.status as string) ? b : null;
    },
    `batch ${id} to reach ${statuses.join('/')}`,
    120_000,
  ) as Promise<Record<string, unknown>>;
}

async function rowCounts(id: string): Promise<Record<string, number>> {
  const q = async (sql: string): Promise<number> =>
    (await h.db.pool.query<{ n: number }>(sql, [id])).rows[0]?.n ?? -1;
  return {
    batches: await q('SELECT count(*)::int AS n FROM batches WHERE id = $1'),
    documents: await q('SELECT count(*)::int AS n FROM documents WHERE batch_id = $1'),
    deliveries: await q('SELECT count(*)::int AS n FROM webhook_deliveries WHERE batch_id = $1'),
    attempts: await q(
      'SELECT count(*)::int AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.batch_id = $1',
    ),
  };
}

describe('DELETE /v1/batches/{id}', () => {
  it('deletes a completed batch with its documents, results and webhook deliveries', async () => {
    const webhook = encodeURIComponent(receiver.url('/refuse'));
    const created = await submit('classification', spamNdjson(200), `&webhook_url=${webhook}`);
    const done = await waitForStatus(created.id, ['completed']);
    expect(done.counts).toMatchObject({ total: 200, completed: 200 });
    // Retention is on (29 days by default): the batch says when its data goes.
    expect(Date.parse(done.data_expires_at as string) - Date.parse(done.finished_at as string)).toBe(
      29 * 86_400_000,
    );
    const results = await h.request(`/v1/batches/${created.id}/results`);
    expect((await results.text()).trim().split('\n')).toHaveLength(200);
    // The end event was attempted (and refused) at least once: deliveries and attempts exist.
    await waitFor(
      async () => ((await rowCounts(created.id)).attempts ?? 0) >= 1,
      'a webhook attempt',
      30_000,
    );
    expect(await rowCounts(created.id)).toMatchObject({ batches: 1, documents: 200, deliveries: 1 });

    const del = await h.request(`/v1/batches/${created.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await json(del)).toEqual({ id: created.id, object: 'batch.deleted', deleted: true });

    for (const path of ['', '/results', '/documents/d1', '/webhook_deliveries']) {
      const res = await h.request(`/v1/batches/${created.id}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe('NOT_FOUND');
    }
    const list = await json<{ data: { id: string }[] }>(await h.request('/v1/batches?limit=100'));
    expect(list.data.map((b) => b.id)).not.toContain(created.id);
    // A small batch is gone by the time the answer arrives.
    expect(await rowCounts(created.id)).toEqual({ batches: 0, documents: 0, deliveries: 0, attempts: 0 });
    // Deleting again: it no longer exists.
    const again = await h.request(`/v1/batches/${created.id}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
  });

  it('refuses a batch that has not finished (409 BATCH_NOT_FINISHED) and deletes it once cancelled', async () => {
    // No worker pulls summarization here: the batch stays queued.
    const created = await submit('summarization', ndjson(30));
    const refused = await h.request(`/v1/batches/${created.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    const err = await json<{ error: { code: string; message: string } }>(refused);
    expect(err.error.code).toBe('BATCH_NOT_FINISHED');
    expect(err.error.message).toMatch(/queued.*[Cc]ancel/);
    // Nothing was touched.
    const still = await json(await h.request(`/v1/batches/${created.id}`));
    expect(still).toMatchObject({
      status: 'queued',
      data_expires_at: null,
      counts: { total: 30, queued: 30 },
    });
    expect(await rowCounts(created.id)).toMatchObject({ batches: 1, documents: 30 });

    const cancelled = await h.request(`/v1/batches/${created.id}/cancel`, { method: 'POST' });
    expect((await json(cancelled)).status).toBe('cancelled');
    const del = await h.request(`/v1/batches/${created.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await rowCounts(created.id)).toEqual({ batches: 0, documents: 0, deliveries: 0, attempts: 0 });
  });

  it('answers a replay of the Idempotency-Key that created a deleted batch with 404', async () => {
    const body = ndjson(3);
    const post = (): Promise<Response> =>
      h.request('/v1/batches?task=summarization', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'delete-me-once' },
        body,
      });
    const first = await post();
    expect(first.status).toBe(201);
    const id = (await json<{ id: string }>(first)).id;
    await h.request(`/v1/batches/${id}/cancel`, { method: 'POST' });
    expect((await h.request(`/v1/batches/${id}`, { method: 'DELETE' })).status).toBe(200);
    const replay = await post();
    expect(replay.status).toBe(404);
    const err = await json<{ error: { code: string; message: string } }>(replay);
    expect(err.error.code).toBe('NOT_FOUND');
    expect(err.error.message).toContain(id);
  });

  it("is a plain 404 for another tenant's batch, which stays intact", async () => {
    const created = await submit('summarization', ndjson(5));
    await h.request(`/v1/batches/${created.id}/cancel`, { method: 'POST' });
    const other = await h.newTenant('other-tenant');
    const res = await h.request(`/v1/batches/${created.id}`, { method: 'DELETE', key: other.key });
    expect(res.status).toBe(404);
    expect((await json<{ error: { code: string } }>(res)).error.code).toBe('NOT_FOUND');
    expect((await h.request(`/v1/batches/${created.id}`)).status).toBe(200);
    expect(await rowCounts(created.id)).toMatchObject({ batches: 1, documents: 5 });
    // Unknown ids and query parameters.
    expect((await h.request('/v1/batches/bat_nosuchbatch', { method: 'DELETE' })).status).toBe(404);
    const bad = await h.request(`/v1/batches/${created.id}?force=true`, { method: 'DELETE' });
    expect(bad.status).toBe(400);
    expect(await rowCounts(created.id)).toMatchObject({ batches: 1, documents: 5 });
  });

  it('is what the SDK deleteBatch() and the CLI delete command do', async () => {
    const client = new DocBatchClient({ baseUrl: h.url, apiKey: h.key, retries: 0 });
    const queued = await client.createBatch({ task: 'summarization', documents: [{ text: 'One. Two.' }] });
    await expect(client.deleteBatch(queued.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(client.deleteBatch(queued.id)).rejects.toMatchObject({
      code: 'BATCH_NOT_FINISHED',
      status: 409,
    });
    await client.cancelBatch(queued.id);
    expect(await client.deleteBatch(queued.id)).toEqual({
      id: queued.id,
      object: 'batch.deleted',
      deleted: true,
    });
    await expect(client.getBatch(queued.id)).rejects.toBeInstanceOf(NotFoundError);

    const env = {
      ...inheritedEnv(),
      ...h.env.env,
      DOCBATCH_URL: h.url,
      DOCBATCH_API_KEY: h.key,
      LOG_LEVEL: 'silent',
    };
    const done = await client.createBatch({ task: 'classification', documents: [{ text: SPAM[0]! }] });
    await client.waitForBatch(done.id, { minIntervalMs: 100, timeoutMs: 60_000 });
    const cli = await runCliProcess(['delete', done.id], env);
    expect(cli.stderr).toBe('');
    expect(cli).toMatchObject({ code: 0, stdout: `${done.id} deleted\n` });
    const cliAgain = await runCliProcess(['--json', 'delete', done.id], env);
    expect(cliAgain.code).toBe(1);
    expect(cliAgain.stderr).toContain('NOT_FOUND');

    const running = await client.createBatch({ task: 'summarization', documents: [{ text: 'One. Two.' }] });
    const refused = await runCliProcess(['delete', running.id], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('BATCH_NOT_FINISHED');
    const usage = await runCliProcess(['delete'], env);
    expect(usage.code).toBe(2);
    await client.cancelBatch(running.id);
    const json = await runCliProcess(['--json', 'delete', running.id], env);
    expect(JSON.parse(json.stdout)).toEqual({ id: running.id, object: 'batch.deleted', deleted: true });
  });
});

describe('DELETE /admin/api/batches/{id}', () => {
  it("deletes any tenant's finished batch for the operator, and refuses an unfinished one", async () => {
    const other = await h.newTenant('admin-deletes');
    const created = await submit('summarization', ndjson(12), '', other.key);
    const admin = (method: string): Promise<Response> =>
      fetch(`${h.url}/admin/api/batches/${created.id}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
    const refused = await admin('DELETE');
    expect(refused.status).toBe(409);
    expect((await json<{ error: { code: string } }>(refused)).error.code).toBe('BATCH_NOT_FINISHED');
    // Without the admin token: 401, nothing deleted.
    const anonymous = await fetch(`${h.url}/admin/api/batches/${created.id}`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    await h.request(`/v1/batches/${created.id}/cancel`, { method: 'POST', key: other.key });
    const res = await admin('DELETE');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ id: created.id, object: 'batch.deleted', deleted: true });
    expect((await h.request(`/v1/batches/${created.id}`, { key: other.key })).status).toBe(404);
    expect((await admin('GET')).status).toBe(404);
    expect(await rowCounts(created.id)).toEqual({ batches: 0, documents: 0, deliveries: 0, attempts: 0 });
  });
});

describe('a deletion the API left unfinished', () => {
  it('is invisible at once and finished by the workers maintenance loop', async () => {
    const created = await submit('summarization', ndjson(1_500));
    await h.request(`/v1/batches/${created.id}/cancel`, { method: 'POST' });
    // The API's own purge gets no time at all (as when the API process dies right after the mark).
    const deps = { db: h.db, logger: createLogger('silent') } as unknown as BatchDeps;
    expect(await deleteBatch(deps, h.tenantId, created.id, { inlineBudgetMs: 0 })).toEqual({
      id: created.id,
      object: 'batch.deleted',
      deleted: true,
    });
    expect((await h.request(`/v1/batches/${created.id}`)).status).toBe(404);
    expect((await h.request(`/v1/batches/${created.id}/results`)).status).toBe(404);
    const list = await json<{ data: { id: string }[] }>(await h.request('/v1/batches?limit=100'));
    expect(list.data.map((b) => b.id)).not.toContain(created.id);
    // The worker's maintenance (RECONCILE_INTERVAL_MS 300) removes the rows in bounded transactions.
    await waitFor(
      async () => (await rowCounts(created.id)).batches === 0,
      'the maintenance loop to purge the batch',
      30_000,
    );
    expect(await rowCounts(created.id)).toEqual({ batches: 0, documents: 0, deliveries: 0, attempts: 0 });
  });
});

describe('metrics', () => {
  it('exports queue depth from the API alone, without a maintenance queue, and counts deletions', async () => {
    const api = await (await fetch(`${h.url}/metrics`)).text();
    expect(api).toMatch(/^docbatch_queue_depth\{queue="chunks-classification",state="waiting"\} \d+$/m);
    expect(api).toMatch(/^docbatch_queue_depth\{queue="webhooks",state="delayed"\} \d+$/m);
    expect(api).not.toContain('queue="maintenance"');
    expect(api).toMatch(/^docbatch_batches_deleted_total\{reason="api"\} [1-9]\d*$/m);
    // (This process runs the API and the worker together, so they share one registry; that the
    // worker's /metrics has no queue depth is checked in pipeline-tasks.test.ts, worker only.)
    const worker = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(worker).toMatch(/^docbatch_documents_purged_total [1-9]\d*$/m);
    if (hasPromtool) {
      expect(promtoolCheck(api)).toEqual({ status: 0, output: '' });
      expect(promtoolCheck(worker)).toEqual({ status: 0, output: '' });
    } else console.warn('promtool not installed (Debian package prometheus): metrics lint skipped');
  });
});

describe('usage', () => {
  /** Code points, as usage counts them (an emoji outside the BMP is one). */
  const chars = (t: string): number => [...t].length;

  it('counts a processed batch per day and model, keeps it after deletion, and shows it to the operator', async () => {
    const tenant = await h.newTenant('usage-co');
    const texts = Array.from({ length: 40 }, (_, i) => `${SPAM[i % SPAM.length]!} ☕🎉 #${i}`);
    // The streamed NDJSON form (COPY) and the small JSON form: both count.
    const streamed = await submit(
      'classification',
      texts.map((text, i) => JSON.stringify({ id: `u${i}`, text })).join('\n') + '\n',
      '',
      tenant.key,
    );
    const small = await h.request('/v1/batches', {
      method: 'POST',
      key: tenant.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        task: 'classification',
        documents: texts.slice(0, 3).map((text) => ({ text })),
      }),
    });
    expect(small.status).toBe(201);
    const smallId = (await json<{ id: string }>(small)).id;
    await waitForStatus(streamed.id, ['completed'], tenant.key);
    const done = await waitForStatus(smallId, ['completed'], tenant.key);
    const model = done.model as string;
    const today = new Date().toISOString().slice(0, 10);
    const expected = {
      batches: 2,
      documents_submitted: 43,
      documents_completed: 43,
      documents_failed: 0,
      input_characters:
        texts.reduce((n, t) => n + chars(t), 0) + texts.slice(0, 3).reduce((n, t) => n + chars(t), 0),
    };

    const res = await h.request('/v1/usage', { key: tenant.key });
    expect(res.status).toBe(200);
    const usage = await json<{
      object: string;
      start: string;
      end: string;
      group_by: string[];
      data: Record<string, unknown>[];
      totals: Record<string, number>;
    }>(res);
    expect(usage).toMatchObject({ object: 'usage', end: today, group_by: ['day', 'task', 'model'] });
    expect(Date.parse(usage.end) - Date.parse(usage.start)).toBe(29 * 86_400_000);
    expect(usage.data).toEqual([
      { day: today, task: 'classification', model, ...expected, input_tokens: expect.any(Number) },
    ]);
    const tokens = usage.totals.input_tokens!;
    expect(tokens).toBeGreaterThanOrEqual(43);
    expect(usage.totals).toEqual({ ...expected, input_tokens: tokens });
    // The metrics agree (labelled with the tenant's name).
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toContain(
      `docbatch_tenant_documents_processed_total{tenant="usage-co",task="classification",outcome="completed"} 43`,
    );
    expect(metrics).toContain(
      `docbatch_tenant_input_tokens_total{tenant="usage-co",task="classification"} ${tokens}`,
    );
    expect(metrics).toContain(
      `docbatch_tenant_batches_created_total{tenant="usage-co",task="classification"} 2`,
    );

    // Deleting the batches does not change usage.
    for (const id of [streamed.id, smallId]) {
      expect((await h.request(`/v1/batches/${id}`, { method: 'DELETE', key: tenant.key })).status).toBe(200);
    }
    const after = await json<{ totals: unknown }>(
      await h.request(`/v1/usage?start=${today}&end=${today}&group_by=`, { key: tenant.key }),
    );
    expect(after).toMatchObject({ group_by: [], data: [{ ...expected, input_tokens: tokens }] });
    expect(after.totals).toEqual({ ...expected, input_tokens: tokens });
    // Another tenant's figures are its own: acme has no usage-co numbers.
    const acme = await json<{ data: { documents_submitted: number }[] }>(
      await h.request('/v1/usage?group_by=day'),
    );
    expect(acme.data).toHaveLength(1);
    expect(acme.data[0]!.documents_submitted).not.toBe(43);
    // A day without usage: no buckets, zero totals.
    const empty = await json<{ data: unknown[]; totals: Record<string, number> }>(
      await h.request('/v1/usage?start=2020-01-01&end=2020-01-31', { key: tenant.key }),
    );
    expect(empty.data).toEqual([]);
    expect(Object.values(empty.totals)).toEqual([0, 0, 0, 0, 0, 0]);

    // The operator's view across tenants.
    const admin = (q: string): Promise<Response> =>
      fetch(`${h.url}/admin/api/usage${q}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const all = await json<{ data: { tenant: { name: string }; documents_submitted: number }[] }>(
      await admin('?group_by=model'),
    );
    const names = all.data.map((b) => b.tenant.name);
    expect(names).toEqual(expect.arrayContaining(['acme', 'usage-co']));
    const one = await json<{ data: Record<string, unknown>[] }>(
      await admin(`?tenant=usage-co&start=${today}`),
    );
    expect(one.data).toEqual([
      {
        day: today,
        tenant: { id: tenant.tenantId, name: 'usage-co' },
        task: 'classification',
        model,
        ...expected,
        input_tokens: tokens,
      },
    ]);
    expect((await admin('?tenant=nobody')).status).toBe(404);
    expect((await fetch(`${h.url}/admin/api/usage`)).status).toBe(401);

    // The CLI prints the same numbers.
    const env = {
      ...inheritedEnv(),
      ...h.env.env,
      DOCBATCH_URL: h.url,
      DOCBATCH_API_KEY: tenant.key,
      LOG_LEVEL: 'silent',
    };
    const cli = await runCliProcess(['usage', '--group-by', 'model'], env);
    expect(cli.code).toBe(0);
    const lines = cli.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^TASK\s+MODEL\s+BATCHES\s+SUBMITTED\s+COMPLETED\s+FAILED\s+CHARACTERS\s+TOKENS$/,
    );
    expect(lines[1]!.split(/\s+/)).toEqual([
      'classification',
      model,
      '2',
      '43',
      '43',
      '0',
      expected.input_characters.toLocaleString('en-US'),
      tokens.toLocaleString('en-US'),
    ]);
    expect(lines[2]!.split(/\s+/)[0]).toBe('TOTAL');
    const cliJson = await runCliProcess(['--json', 'usage', '--start', today, '--end', today], env);
    expect(JSON.parse(cliJson.stdout).totals).toEqual({ ...expected, input_tokens: tokens });
    const cliBad = await runCliProcess(['usage', '--group-by', 'week'], env);
    expect(cliBad.code).toBe(2);
  });

  it('refuses bad ranges and groups with 400 INVALID_REQUEST', async () => {
    for (const q of [
      'start=2026-02-30',
      'end=yesterday',
      'start=2026-03-02&end=2026-03-01',
      'start=2020-01-01&end=2026-01-01',
      'group_by=week',
      'group_by=day,,model',
      'limit=5',
      'start=2026-01-01&start=2026-01-02',
    ]) {
      const res = await h.request(`/v1/usage?${q}`);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe('INVALID_REQUEST');
    }
    expect((await h.request('/v1/usage', { key: null })).status).toBe(401);
  });
});
