import http from 'node:http';
import { Client } from 'pg';
import { ACTIVE_CAP_LOCK_CLASS } from '../../src/core/tenants/submission-limits';
import { DocBatchClient } from '@docbatch/sdk';
import { waitFor } from '../support/wait-for';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Many small submissions at once, as SDK users send them (JSON form, an Idempotency-Key each):
 * they do not queue behind a streamed upload's slot, the active-batch cap holds when every one of
 * them passed the early check, a rejected one stores nothing, and Idempotency-Key semantics hold
 * on the one-statement path (concurrent duplicates, a key past its TTL).
 */

jest.setTimeout(90_000);

type Batch = { id: string; status: string; counts: { total: number } };

const docs = (n: number, tag: string): { id: string; text: string }[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i + 1}`,
    text: `Message ${i + 1} of ${tag}. Hello.`,
  }));

function postJson(h: ApiHarness, body: unknown, key: string, apiKey?: string): Promise<Response> {
  return h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
    key: apiKey,
  });
}

async function rowsOf(
  h: ApiHarness,
  tenantId: string,
): Promise<{ batches: string[]; documents: number; keys: string[] }> {
  const r = await h.db.pool.query<{ batches: string[] | null; documents: number; keys: string[] | null }>(
    `SELECT (SELECT array_agg(id ORDER BY id) FROM batches WHERE tenant_id = $1) AS batches,
            (SELECT count(*)::int FROM documents d JOIN batches b ON b.id = d.batch_id WHERE b.tenant_id = $1) AS documents,
            (SELECT array_agg(batch_id ORDER BY batch_id) FROM idempotency_keys WHERE tenant_id = $1) AS keys`,
    [tenantId],
  );
  const row = r.rows[0]!;
  return { batches: row.batches ?? [], documents: row.documents, keys: row.keys ?? [] };
}

/** Starts a chunked NDJSON upload of `lines` documents that stays open (it holds an upload slot). */
function openStreamedUpload(
  url: string,
  key: string,
  lines: number,
): Promise<{ req: http.ClientRequest; response: Promise<number> }> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/v1/batches?task=classification`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });
    const response = new Promise<number>((res, rej) => {
      req.on('response', (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      });
      req.on('error', rej);
    });
    response.catch(() => undefined);
    let out = '';
    for (let i = 1; i <= lines; i++) out += `{"text":"streamed document ${i}"}\n`;
    req.write(out, () => resolve({ req, response }));
  });
}

describe('small submissions beside a streamed upload', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    // DB_POOL_SIZE 3: one upload slot, two connections for everything else.
    h = await startApi({ DB_POOL_SIZE: '3', WEBHOOK_ALLOWLIST: '127.0.0.1/32' });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('are accepted while the streamed upload holds the only upload slot', async () => {
    const copies = async (): Promise<number> => {
      const r = await h.db.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY documents%'`,
      );
      return r.rows[0].n as number;
    };
    const streamed = await openStreamedUpload(h.url, h.key, 50);
    await waitFor(async () => (await copies()) === 1, 'the streamed upload to hold its slot');

    // 12 SDK clients, each submitting 3 batches of 5 to 24 documents and reading each one back.
    const clients = Array.from(
      { length: 12 },
      () => new DocBatchClient({ baseUrl: h.url, apiKey: h.key, retries: 0 }),
    );
    const created = (
      await Promise.all(
        clients.map(async (client, c) => {
          const ids: string[] = [];
          for (let k = 0; k < 3; k++) {
            const n = 5 + ((c * 7 + k) % 20);
            const batch = await client.createBatch({
              task: 'classification',
              documents: docs(n, `c${c}k${k}`),
              webhook_url: 'http://127.0.0.1:9/hook',
            });
            expect(batch).toMatchObject({ status: 'queued', counts: { total: n, queued: n } });
            expect((await client.getBatch(batch.id)).counts.total).toBe(n);
            ids.push(batch.id);
          }
          return ids;
        }),
      )
    ).flat();
    // All 36 were created while the streamed upload still held the slot.
    expect(new Set(created).size).toBe(36);
    expect(await copies()).toBe(1);

    // Their documents are stored in input order and their chunk jobs enqueued.
    const first = await h.db.pool.query<{ client_id: string }>(
      'SELECT client_id FROM documents WHERE batch_id = $1 ORDER BY seq',
      [created[0]],
    );
    expect(first.rows.map((r) => r.client_id)).toEqual(docs(5, 'c0k0').map((d) => d.id));
    const jobs = await h.chunkJobs('classification');
    for (const id of created)
      expect(jobs.some((j) => (j.data as { batchId: string }).batchId === id)).toBe(true);

    streamed.req.end();
    expect(await streamed.response).toBe(201);
  });
});

describe('active-batch cap under concurrent small submissions', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ MAX_ACTIVE_BATCHES: '2' });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('admits exactly the cap when every submission passed the early check, and the rejected store nothing', async () => {
    const t = await h.newTenant('racers');
    // Hold the tenant's cap lock: every submission passes the early check (0 active), writes its
    // batch, then waits for the lock at its commit; released together, they commit one at a time.
    const holder = new Client({ connectionString: h.env.databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [ACTIVE_CAP_LOCK_CLASS, t.tenantId]);
      const responses = Array.from({ length: 6 }, (_, i) =>
        postJson(h, { task: 'classification', documents: docs(5 + i, `r${i}`) }, `racer-${i}`, t.key),
      );
      await waitFor(
        async () =>
          (
            await h.db.pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
            )
          ).rows[0]!.n === 6,
        'six submissions waiting for the cap lock at commit',
      );
      await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', [ACTIVE_CAP_LOCK_CLASS, t.tenantId]);
      const results = await Promise.all(
        (await Promise.all(responses)).map(async (r) => ({
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await json<Batch & { error?: { code: string } }>(r),
        })),
      );
      const created = results.filter((r) => r.status === 201);
      const rejected = results.filter((r) => r.status !== 201);
      expect(created).toHaveLength(2);
      expect(rejected.map((r) => [r.status, r.body.error?.code])).toEqual(
        Array.from({ length: 4 }, () => [429, 'TOO_MANY_ACTIVE_BATCHES']),
      );
      for (const r of rejected) expect(r.retryAfter).toMatch(/^\d+$/);

      // Only the two admitted batches exist: their rows, documents, keys and chunk jobs.
      const ids = created.map((r) => r.body.id).sort();
      const rows = await rowsOf(h, t.tenantId);
      expect(rows).toEqual({
        batches: ids,
        documents: created.reduce((n, r) => n + r.body.counts.total, 0),
        keys: ids,
      });
      const jobBatches = new Set(
        (await h.chunkJobs('classification')).map((j) => (j.data as { batchId: string }).batchId),
      );
      expect([...jobBatches].sort()).toEqual(ids);

      // At the cap, a new submission is refused before its body is read; cancelling frees a place.
      const over = await postJson(h, { task: 'classification', documents: docs(3, 'over') }, 'over', t.key);
      expect(over.status).toBe(429);
      await h.request(`/v1/batches/${ids[0]}/cancel`, { method: 'POST', key: t.key });
      expect(
        (await postJson(h, { task: 'classification', documents: docs(3, 'after') }, 'after', t.key)).status,
      ).toBe(201);
    } finally {
      await holder.end();
    }
  });
});

describe('Idempotency-Key on small submissions', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ IDEMPOTENCY_TTL_HOURS: '24' });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('creates one batch for concurrent identical requests and refuses a different body', async () => {
    const t = await h.newTenant('twins');
    const body = { task: 'classification', documents: docs(12, 'twin') };
    const results = await Promise.all(Array.from({ length: 6 }, () => postJson(h, body, 'twin-key', t.key)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const ids = new Set(await Promise.all(results.map(async (r) => (await json<Batch>(r)).id)));
    expect(ids.size).toBe(1);
    expect(await rowsOf(h, t.tenantId)).toEqual({ batches: [...ids], documents: 12, keys: [...ids] });
    const other = await postJson(h, { ...body, documents: docs(13, 'twin') }, 'twin-key', t.key);
    expect(other.status).toBe(409);
    expect((await json<{ error: { code: string } }>(other)).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await rowsOf(h, t.tenantId)).batches).toEqual([...ids]);
  });

  it('lets a new request take over a key older than IDEMPOTENCY_TTL_HOURS, in both body forms', async () => {
    const t = await h.newTenant('late');
    const first = await json<Batch>(
      await postJson(h, { task: 'classification', documents: docs(4, 'a') }, 'old-key', t.key),
    );
    const age = () =>
      h.db.pool.query(
        `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE tenant_id = $1 AND key = 'old-key'`,
        [t.tenantId],
      );
    await age();
    // JSON form (one statement).
    const second = await postJson(h, { task: 'classification', documents: docs(5, 'b') }, 'old-key', t.key);
    expect(second.status).toBe(201);
    const secondId = (await json<Batch>(second)).id;
    expect(secondId).not.toBe(first.id);
    // The key now replays the second batch.
    const replay = await postJson(h, { task: 'classification', documents: docs(5, 'b') }, 'old-key', t.key);
    expect([replay.status, (await json<Batch>(replay)).id]).toEqual([200, secondId]);
    // NDJSON form (COPY).
    await age();
    const third = await h.request('/v1/batches?task=classification', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'old-key' },
      body: '{"text":"c1"}\n{"text":"c2"}\n',
      key: t.key,
    });
    expect(third.status).toBe(201);
    const thirdId = (await json<Batch>(third)).id;
    const rows = await rowsOf(h, t.tenantId);
    expect(rows).toEqual({ batches: [first.id, secondId, thirdId].sort(), documents: 11, keys: [thirdId] });
  });
});
