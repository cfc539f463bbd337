import { hasPromtool, promtoolCheck } from '../support/promtool';
import { gzipSync } from 'node:zlib';
import { failBatch } from '../../src/core/batches';
import { claimChunks, writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { expireBatches } from '../../src/core/pipeline/expiry';
import { writeHeartbeat } from '../../src/core/workers';
import { createRedis } from '../../src/core/redis';
import { revokeKey } from '../../src/core/tenants';
import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

// jest.config sets testTimeout per project, which jest does not apply; set it here.
jest.setTimeout(90_000);

type Batch = Record<string, unknown> & { id: string; status: string; counts: Record<string, number> };
type ErrorBody = {
  error: { code: string; message: string; details?: { line?: number; field?: string; message: string }[] };
};

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h.stop();
});

const post = (query: string, body: string, headers: Record<string, string> = {}, key?: string | null) =>
  h.request(`/v1/batches${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body,
    key,
  });

async function create(
  body = ndjson(3),
  query = '?task=summarization',
  headers: Record<string, string> = {},
): Promise<Batch> {
  const res = await post(query, body, headers);
  expect(res.status).toBe(201);
  return json<Batch>(res);
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json<ErrorBody>(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  return body;
}

async function countRows(): Promise<{ batches: number; documents: number; keys: number }> {
  const r = await h.db.pool.query<{ b: number; d: number; k: number }>(
    `SELECT (SELECT count(*)::int FROM batches) AS b, (SELECT count(*)::int FROM documents) AS d,
            (SELECT count(*)::int FROM idempotency_keys) AS k`,
  );
  const row = r.rows[0] as { b: number; d: number; k: number };
  return { batches: row.b, documents: row.d, keys: row.k };
}

describe('POST /v1/batches (NDJSON)', () => {
  it('creates a batch, stores the documents in order and enqueues id-only chunk jobs after commit', async () => {
    const res = await post(
      '?task=summarization&priority=3&completion_window=2h&options=' +
        encodeURIComponent('{"max_sentences":2}') +
        '&metadata=' +
        encodeURIComponent('{"project":"x"}'),
      ndjson(1200),
    );
    const body = await json<Batch>(res);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/batches/${body.id}`);
    expect(body).toMatchObject({
      object: 'batch',
      task: 'summarization',
      model: 'extractive-summarizer@1',
      status: 'queued',
      priority: 3,
      options: { max_sentences: 2 },
      metadata: { project: 'x' },
      webhook_url: null,
      started_at: null,
      finished_at: null,
      throughput_docs_per_s: null,
      eta_s: null,
      counts: { total: 1200, queued: 1200, running: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 },
    });
    expect(body.id).toMatch(/^bat_[0-9a-z]+$/);
    const window = Date.parse(body.expires_at as string) - Date.parse(body.created_at as string);
    expect(Math.abs(window - 2 * 3600_000)).toBeLessThan(5_000);

    const docs = await h.db.pool.query(
      `SELECT seq, client_id, status FROM documents WHERE batch_id = $1 ORDER BY seq LIMIT 3`,
      [body.id],
    );
    expect(docs.rows).toEqual([
      { seq: 1, client_id: 'd1', status: 'queued' },
      { seq: 2, client_id: 'd2', status: 'queued' },
      { seq: 3, client_id: 'd3', status: 'queued' },
    ]);
    const jobs = (await h.chunkJobs('summarization')).filter((j) => j.id.startsWith(body.id));
    expect(jobs.map((j) => j.id).sort()).toEqual([`${body.id}-c0`, `${body.id}-c1`, `${body.id}-c2`]);
    const c2 = jobs.find((j) => j.id === `${body.id}-c2`);
    expect(c2?.data).toEqual({ batchId: body.id, chunk: 2, seqFrom: 1025, seqTo: 1200 });
    expect(c2?.priority).toBe(3);
    expect(c2?.attempts).toBe(5);
    const stored = await h.db.pool.query('SELECT chunk_count FROM batches WHERE id = $1', [body.id]);
    expect(stored.rows[0].chunk_count).toBe(3);
  });

  it('assigns line numbers as default ids, keeps metadata, accepts CRLF, jsonl types and a trailing blank line', async () => {
    const body =
      '{"text":"first"}\r\n{"text":"second","metadata":{"k":1}}\r\n{"id":"x","text":"tab\\there\\\\ and \\n newline"}\n\n';
    const res = await post('?task=summarization', body, {
      'content-type': 'application/jsonl; charset=utf-8',
    });
    const batch = await json<Batch>(res);
    expect(res.status).toBe(201);
    expect(batch.counts.total).toBe(3);
    const docs = await h.db.pool.query(
      `SELECT seq, client_id, text, metadata FROM documents WHERE batch_id = $1 ORDER BY seq`,
      [batch.id],
    );
    expect(docs.rows).toEqual([
      { seq: 1, client_id: '1', text: 'first', metadata: null },
      { seq: 2, client_id: '2', text: 'second', metadata: { k: 1 } },
      { seq: 3, client_id: 'x', text: 'tab\there\\ and \n newline', metadata: null },
    ]);
  });

  it('accepts a gzip NDJSON body, the same request as the plain one for Idempotency-Key', async () => {
    const plain = ndjson(300);
    const key = { 'idempotency-key': 'gzip-1' };
    const res = await h.request('/v1/batches?task=summarization', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', ...key },
      body: gzipSync(plain),
    });
    const batch = await json<Batch>(res);
    expect(res.status).toBe(201);
    expect(batch.counts.total).toBe(300);
    const replay = await post('?task=summarization', plain, key);
    expect(replay.status).toBe(200);
    expect((await json<Batch>(replay)).id).toBe(batch.id);
    const corrupt = await h.request('/v1/batches?task=summarization', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: gzipSync(plain).subarray(0, 100),
    });
    await expectError(corrupt, 400, 'INVALID_REQUEST');
    await expectError(
      await h.request('/v1/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'br' },
        body: plain,
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('rejects invalid lines with line numbers and stores nothing', async () => {
    const before = await countRows();
    const lines = [
      '{"id":"a","text":"ok"}',
      '{"id":"b"}',
      'not json',
      '{"id":"c","text":""}',
      '',
      '{"id":"d","text":"ok","extra":1}',
      '[1,2]',
      '{"id":"' + 'x'.repeat(129) + '","text":"ok"}',
      '{"id":"e","text":"ok","metadata":[1]}',
      '{"id":"f","text":"nul \\u0000"}',
      '{"id":"g","text":"fine"}',
    ];
    const res = await post('?task=summarization', lines.join('\n') + '\n');
    const body = await expectError(res, 400, 'INVALID_DOCUMENT');
    expect(body.error.details).toEqual([
      { line: 2, field: 'text', message: 'must be a non-empty string' },
      { line: 3, message: 'is not valid JSON' },
      { line: 4, field: 'text', message: 'must be a non-empty string' },
      { line: 5, message: 'empty line (blank lines are allowed only at the end)' },
      { line: 6, message: 'unknown field(s): extra' },
      { line: 7, message: 'must be a JSON object with a "text" field' },
      { line: 8, field: 'id', message: 'must be at most 128 characters' },
      { line: 9, field: 'metadata', message: 'must be an object' },
      { line: 10, field: 'text', message: 'must not contain NUL (\\u0000) characters' },
    ]);
    expect(await countRows()).toEqual(before);
  });

  it('reports at most 100 line errors', async () => {
    const res = await post('?task=summarization', '{"text":1}\n'.repeat(250));
    const body = await expectError(res, 400, 'INVALID_DOCUMENT');
    expect(body.error.details).toHaveLength(100);
    expect(body.error.details?.[99]?.line).toBe(100);
  });

  it('rejects duplicate ids, including a clash with a default id, with DUPLICATE_DOCUMENT_ID', async () => {
    const before = await countRows();
    const res = await post(
      '?task=summarization',
      '{"id":"a","text":"x"}\n{"text":"y"}\n{"id":"a","text":"z"}\n{"id":"2","text":"w"}\n',
    );
    const body = await expectError(res, 400, 'DUPLICATE_DOCUMENT_ID');
    expect(body.error.details).toEqual([
      { line: 3, field: 'id', message: 'duplicate id "a"' },
      { line: 4, field: 'id', message: 'duplicate id "2" (the default id of line 2)' },
    ]);
    const res2 = await post('?task=summarization', '{"id":"3","text":"x"}\n{"text":"y"}\n{"text":"z"}\n');
    const body2 = await expectError(res2, 400, 'DUPLICATE_DOCUMENT_ID');
    expect(body2.error.details?.[0]?.line).toBe(3);
    const long = 'L'.repeat(100);
    const res3 = await post(
      '?task=summarization',
      `{"id":"${long}","text":"x"}\n{"id":"${long}","text":"y"}\n`,
    );
    await expectError(res3, 400, 'DUPLICATE_DOCUMENT_ID');
    expect(await countRows()).toEqual(before);
  });

  it('rejects an empty upload and bad batch fields', async () => {
    await expectError(await post('?task=summarization', '\n\n'), 400, 'INVALID_REQUEST');
    await expectError(await post('', ndjson(1)), 400, 'INVALID_REQUEST');
    await expectError(await post('?task=summarization&priority=11', ndjson(1)), 400, 'INVALID_REQUEST');
    await expectError(await post('?task=summarization&priority=x', ndjson(1)), 400, 'INVALID_REQUEST');
    await expectError(
      await post('?task=summarization&completion_window=30s', ndjson(1)),
      400,
      'INVALID_REQUEST',
    );
    await expectError(
      await post('?task=summarization&completion_window=8d', ndjson(1)),
      400,
      'INVALID_REQUEST',
    );
    await expectError(await post('?task=summarization&options=%7Bbad', ndjson(1)), 400, 'INVALID_REQUEST');
    await expectError(
      await post('?task=summarization&options=' + encodeURIComponent('{"top_k":2}'), ndjson(1)),
      400,
      'INVALID_REQUEST',
    );
    await expectError(
      await post('?task=summarization&options=' + encodeURIComponent('{"ratio":0}'), ndjson(1)),
      400,
      'INVALID_REQUEST',
    );
    await expectError(await post('?task=summarization&colour=blue', ndjson(1)), 400, 'INVALID_REQUEST');
    const meta = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]));
    const tooMany = await post(
      '?task=summarization&metadata=' + encodeURIComponent(JSON.stringify(meta)),
      ndjson(1),
    );
    const body = await expectError(tooMany, 400, 'INVALID_REQUEST');
    expect(body.error.details?.[0]).toEqual({ field: 'metadata', message: 'may have at most 16 keys' });
    await expectError(
      await post('?task=summarization&webhook_url=ftp%3A%2F%2Fx.example', ndjson(1)),
      400,
      'INVALID_WEBHOOK_URL',
    );
    await expectError(
      await post(
        '?task=summarization&webhook_url=' + encodeURIComponent('http://127.0.0.1:9/hook'),
        ndjson(1),
      ),
      400,
      'INVALID_WEBHOOK_URL',
    );
  });

  it('answers 422 for an unknown task or model, and for a language pair no model has', async () => {
    await expectError(await post('?task=sentiment', ndjson(1)), 422, 'UNKNOWN_TASK');
    await expectError(await post('?task=summarization&model=nope', ndjson(1)), 422, 'UNKNOWN_MODEL');
    await expectError(
      await post('?task=summarization&model=extractive-summarizer@99', ndjson(1)),
      422,
      'UNKNOWN_MODEL',
    );
    await expectError(
      await post('?task=summarization&model=en-es-translator', ndjson(1)),
      422,
      'UNKNOWN_MODEL',
    );
    const pair = await post(
      '?task=translation&options=' + encodeURIComponent('{"target_lang":"fr"}'),
      ndjson(1),
    );
    await expectError(pair, 422, 'UNKNOWN_MODEL');
    const ok = await post(
      '?task=translation&options=' + encodeURIComponent('{"source_lang":"en","target_lang":"es"}'),
      ndjson(1),
    );
    expect(ok.status).toBe(201);
    expect((await json<Batch>(ok)).model).toBe('en-es-translator@2');
  });

  it('answers 415 for other content types', async () => {
    await expectError(
      await post('?task=summarization', ndjson(1), { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await expectError(
      await post('?task=summarization', ndjson(1), {
        'content-type': 'application/x-ndjson; charset=latin1',
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('POST /v1/batches (JSON)', () => {
  const postJson = (body: unknown, headers: Record<string, string> = {}) =>
    h.request('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('creates a batch with the same result as the NDJSON form', async () => {
    const res = await postJson({
      task: 'translation',
      documents: [{ id: 'a1', text: 'Hello.', metadata: { n: 1 } }, { text: 'World.' }],
      metadata: { project: 'y' },
      priority: 1,
      completion_window: '1h',
    });
    const batch = await json<Batch>(res);
    expect(res.status).toBe(201);
    expect(batch).toMatchObject({
      task: 'translation',
      model: 'en-es-translator@2',
      priority: 1,
      counts: { total: 2 },
    });
    const doc = await h.request(`/v1/batches/${batch.id}/documents/2`);
    expect(await json(doc)).toEqual({
      id: '2',
      status: 'queued',
      text: 'World.',
      result: null,
      error: null,
      metadata: null,
    });
  });

  it('validates documents with their 1-based position as line', async () => {
    const res = await postJson({ task: 'summarization', documents: [{ text: 'ok' }, { text: 5 }] });
    const body = await expectError(res, 400, 'INVALID_DOCUMENT');
    expect(body.error.details).toEqual([{ line: 2, field: 'text', message: 'must be a non-empty string' }]);
    await expectError(await postJson({ task: 'summarization' }), 400, 'INVALID_REQUEST');
    await expectError(await postJson({ task: 'summarization', documents: [] }), 400, 'INVALID_REQUEST');
    await expectError(await postJson('{"task":'), 400, 'INVALID_REQUEST');
    await expectError(await postJson({ task: 'classify', documents: [{ text: 'x' }] }), 422, 'UNKNOWN_TASK');
  });
});

describe('Idempotency-Key', () => {
  it('replays the original batch for the same request and refuses a different one', async () => {
    const key = { 'idempotency-key': 'idem-1' };
    const first = await create(ndjson(5), '?task=summarization', key);
    const before = await countRows();
    const again = await post('?task=summarization', ndjson(5), key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json<Batch>(again)).id).toBe(first.id);
    await expectError(await post('?task=summarization', ndjson(6), key), 409, 'IDEMPOTENCY_KEY_REUSED');
    await expectError(
      await post('?task=summarization&priority=2', ndjson(5), key),
      409,
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(await countRows()).toEqual(before);
    // Another tenant may use the same key.
    const other = await h.newTenant('idem-other');
    const res = await post('?task=summarization', ndjson(5), key, other.key);
    expect(res.status).toBe(201);
  });

  it('creates exactly one batch for concurrent identical requests', async () => {
    const key = { 'idempotency-key': 'idem-concurrent' };
    const body = ndjson(3000);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => post('?task=summarization', body, key)),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 201]);
    const ids = new Set(await Promise.all(results.map(async (r) => (await json<Batch>(r)).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const n = await h.db.pool.query('SELECT count(*)::int AS n FROM documents WHERE batch_id = $1', [id]);
    expect(n.rows[0].n).toBe(3000);
  });

  it('frees the key when the upload is rejected', async () => {
    const key = { 'idempotency-key': 'idem-rejected' };
    await expectError(await post('?task=summarization', '{"text":""}\n', key), 400, 'INVALID_DOCUMENT');
    expect((await post('?task=summarization', ndjson(1), key)).status).toBe(201);
  });
});

describe('authentication and tenant isolation', () => {
  it('requires a valid, unrevoked key on every /v1 route', async () => {
    const paths = ['/v1/batches', '/v1/models', '/v1/batches/bat_x', '/v1/batches/bat_x/results'];
    for (const p of paths) {
      await expectError(await h.request(p, { key: null }), 401, 'UNAUTHORIZED');
      await expectError(await h.request(p, { key: 'dbk_wrong' }), 401, 'UNAUTHORIZED');
    }
    const res = await h.request('/v1/batches', { key: null });
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    const t = await h.newTenant('revoked');
    expect((await h.request('/v1/batches', { key: t.key })).status).toBe(200);
    expect(await revokeKey(h.db, t.key)).toBe(true);
    await expectError(await h.request('/v1/batches', { key: t.key }), 401, 'UNAUTHORIZED');
  });

  it("answers 404 for another tenant's batch on every batch route", async () => {
    const batch = await create(ndjson(2));
    const other = await h.newTenant('intruder');
    const o = { key: other.key };
    await expectError(await h.request(`/v1/batches/${batch.id}`, o), 404, 'NOT_FOUND');
    await expectError(await h.request(`/v1/batches/${batch.id}/results`, o), 404, 'NOT_FOUND');
    await expectError(await h.request(`/v1/batches/${batch.id}/documents/d1`, o), 404, 'NOT_FOUND');
    await expectError(
      await h.request(`/v1/batches/${batch.id}/cancel`, { ...o, method: 'POST' }),
      404,
      'NOT_FOUND',
    );
    await expectError(
      await h.request(`/v1/batches/${batch.id}/retry`, { ...o, method: 'POST' }),
      404,
      'NOT_FOUND',
    );
    const list = await json<{ data: Batch[] }>(await h.request('/v1/batches', o));
    expect(list.data).toEqual([]);
    const mine = await h.request(`/v1/batches/${batch.id}`);
    expect(mine.status).toBe(200);
  });
});

describe('GET /v1/batches', () => {
  it('lists newest first with opaque cursors and a status filter', async () => {
    const t = await h.newTenant('lister');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post('?task=summarization', ndjson(1), {}, t.key);
      ids.push((await json<Batch>(res)).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res = await h.request(`/v1/batches?limit=2${cursor ? `&after=${cursor}` : ''}`, { key: t.key });
      const body = await json<{
        object: string;
        data: Batch[];
        has_more: boolean;
        next_cursor: string | null;
      }>(res);
      expect(body.object).toBe('list');
      seen.push(...body.data.map((b) => b.id));
      cursor = body.next_cursor;
      expect(body.has_more).toBe(cursor !== null);
      if (!body.has_more) break;
    }
    expect(seen).toEqual([...ids].reverse());
    await h.request(`/v1/batches/${ids[1]}/cancel`, { key: t.key, method: 'POST' });
    const cancelled = await json<{ data: Batch[] }>(
      await h.request('/v1/batches?status=cancelled', { key: t.key }),
    );
    expect(cancelled.data.map((b) => b.id)).toEqual([ids[1]]);
    await expectError(await h.request('/v1/batches?limit=0', { key: t.key }), 400, 'INVALID_REQUEST');
    await expectError(await h.request('/v1/batches?limit=101', { key: t.key }), 400, 'INVALID_REQUEST');
    await expectError(await h.request('/v1/batches?status=done', { key: t.key }), 400, 'INVALID_REQUEST');
    await expectError(await h.request('/v1/batches?after=garbage!', { key: t.key }), 400, 'INVALID_REQUEST');
  });
});

describe('cancel', () => {
  it('cancels queued documents at once, is idempotent, and refuses a finished batch', async () => {
    const batch = await create(ndjson(700));
    const res = await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = await json<Batch>(res);
    expect(body.status).toBe('cancelled');
    expect(body.counts).toMatchObject({ total: 700, queued: 0, cancelled: 700 });
    expect(body.finished_at).not.toBeNull();
    // Waiting chunk jobs are removed.
    expect((await h.chunkJobs('summarization')).filter((j) => j.id.startsWith(batch.id))).toEqual([]);
    const again = await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(202);
    expect((await json<Batch>(again)).status).toBe('cancelled');
    await expectError(
      await h.request('/v1/batches/bat_missing/cancel', { method: 'POST' }),
      404,
      'NOT_FOUND',
    );

    const failed = await create(ndjson(2));
    await failBatch(h.db.pool, failed.id, { code: 'MODEL_LOAD_FAILED', message: 'model could not load' });
    await expectError(
      await h.request(`/v1/batches/${failed.id}/cancel`, { method: 'POST' }),
      409,
      'BATCH_FINISHED',
    );
  });

  it('leaves a batch cancelling while documents are running', async () => {
    const batch = await create(ndjson(4));
    // A worker has claimed two documents.
    await claimChunks(h.db.pool, [{ batchId: batch.id, seqFrom: 1, seqTo: 2 }], 5);
    const body = await json<Batch>(await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST' }));
    expect(body.status).toBe('cancelling');
    expect(body.counts).toMatchObject({ running: 2, cancelled: 2, queued: 0 });
  });
});

describe('retry', () => {
  it('requeues failed documents under a new job generation', async () => {
    const batch = await create(ndjson(600));
    await failBatch(h.db.pool, batch.id, { code: 'MODEL_LOAD_FAILED', message: 'model could not load' });
    const failed = await json<Batch>(await h.request(`/v1/batches/${batch.id}`));
    expect(failed).toMatchObject({
      status: 'failed',
      counts: { failed: 600 },
      error: { code: 'MODEL_LOAD_FAILED' },
    });
    const res = await h.request(`/v1/batches/${batch.id}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = await json<Batch>(res);
    expect(body).toMatchObject({
      status: 'queued',
      finished_at: null,
      error: null,
      counts: { queued: 600, failed: 0 },
    });
    const jobs = (await h.chunkJobs('summarization')).filter((j) => j.id.startsWith(batch.id));
    const retried = jobs.filter((j) => /-g\d+$/.test(j.id));
    expect(retried.map((j) => j.data)).toEqual(
      expect.arrayContaining([
        { batchId: batch.id, chunk: 0, seqFrom: 1, seqTo: 512 },
        { batchId: batch.id, chunk: 1, seqFrom: 513, seqTo: 600 },
      ]),
    );
    expect(retried).toHaveLength(2);
    // Nothing left to retry: 202, unchanged.
    const again = await h.request(`/v1/batches/${batch.id}/retry`, { method: 'POST' });
    expect(again.status).toBe(202);
    expect((await json<Batch>(again)).counts.queued).toBe(600);
    // A cancelled batch cannot be retried.
    await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST' });
    await expectError(
      await h.request(`/v1/batches/${batch.id}/retry`, { method: 'POST' }),
      409,
      'BATCH_FINISHED',
    );
  });
});

describe('retry of an expired batch', () => {
  it('requeues expired and failed documents and pushes expires_at a window ahead', async () => {
    const batch = await create(ndjson(10), '?task=summarization&completion_window=1h');
    await claimChunks(h.db.pool, [{ batchId: batch.id, seqFrom: 1, seqTo: 3 }], 5);
    await writeOutcomes(h.db.pool, [
      { batchId: batch.id, seq: 1, result: { summary: 's', sentence_indices: [0] } },
      { batchId: batch.id, seq: 2, error: { code: 'DOCUMENT_TOO_SHORT', message: 'x' } },
    ]);
    // The completion window passes (time travel on the one column the sweep reads).
    await h.db.pool.query(`UPDATE batches SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      batch.id,
    ]);
    await expireBatches(h.db.pool);
    const expired = await json<Batch>(await h.request(`/v1/batches/${batch.id}`));
    expect(expired).toMatchObject({ status: 'expired', counts: { completed: 1, failed: 1, expired: 8 } });
    const res = await h.request(`/v1/batches/${batch.id}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = await json<Batch>(res);
    expect(body).toMatchObject({
      status: 'queued',
      finished_at: null,
      counts: { completed: 1, queued: 9, failed: 0, expired: 0 },
    });
    expect(Date.parse(body.expires_at as string) - Date.now()).toBeGreaterThan(3590_000);
    const jobs = (await h.chunkJobs('summarization')).filter((j) => j.id.startsWith(`${batch.id}-c0-g`));
    expect(jobs.map((j) => j.data)).toEqual([{ batchId: batch.id, chunk: 0, seqFrom: 2, seqTo: 10 }]);
  });
});

describe('results and documents', () => {
  let batchId: string;
  beforeAll(async () => {
    // 2,500 documents: a worker claims 1..1200 and writes 1..1000 completed, 1001..1200 failed;
    // then the batch is cancelled, so 1201..2500 are cancelled.
    const batch = await create(ndjson(2500));
    batchId = batch.id;
    const [claim] = await claimChunks(h.db.pool, [{ batchId, seqFrom: 1, seqTo: 1200 }], 5);
    expect(claim?.kind).toBe('run');
    await writeOutcomes(
      h.db.pool,
      Array.from({ length: 1200 }, (_, i) =>
        i < 1000
          ? { batchId, seq: i + 1, result: { summary: `summary ${i + 1}`, sentence_indices: [0] } }
          : { batchId, seq: i + 1, error: { code: 'DOCUMENT_TOO_SHORT', message: 'nothing to summarize' } },
      ),
    );
    const running = await json<Batch>(await h.request(`/v1/batches/${batchId}`));
    expect(running).toMatchObject({
      status: 'running',
      counts: { completed: 1000, failed: 200, queued: 1300 },
    });
    expect(running.started_at).not.toBeNull();
    expect(running.throughput_docs_per_s).toBeGreaterThan(0);
    expect(running.eta_s).toBeGreaterThan(0);
    const cancelled = await json<Batch>(await h.request(`/v1/batches/${batchId}/cancel`, { method: 'POST' }));
    expect(cancelled).toMatchObject({
      status: 'cancelled',
      eta_s: 0,
      counts: { cancelled: 1300, queued: 0 },
    });
  });

  const lines = async (res: Response) =>
    (await res.text())
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as { id: string; status: string; error: unknown; result: unknown; metadata: unknown },
      );

  it('streams every finished document as NDJSON in input order', async () => {
    const res = await h.request(`/v1/batches/${batchId}/results`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const all = await lines(res);
    expect(all).toHaveLength(2500);
    expect(all.map((l) => l.id)).toEqual(Array.from({ length: 2500 }, (_, i) => `d${i + 1}`));
    expect(all[0]).toEqual({
      id: 'd1',
      status: 'completed',
      result: { summary: 'summary 1', sentence_indices: [0] },
      error: null,
      metadata: null,
    });
    expect(all[1000]).toEqual({
      id: 'd1001',
      status: 'failed',
      result: null,
      error: { code: 'DOCUMENT_TOO_SHORT', message: 'nothing to summarize' },
      metadata: null,
    });
    expect(all[1200]).toMatchObject({ id: 'd1201', status: 'cancelled', result: null });
  });

  it('filters by status and pages NDJSON with X-Next-Cursor', async () => {
    const failed = await lines(await h.request(`/v1/batches/${batchId}/results?status=failed`));
    expect(failed.map((l) => l.id)).toEqual(Array.from({ length: 200 }, (_, i) => `d${i + 1001}`));
    const both = await lines(
      await h.request(`/v1/batches/${batchId}/results?status=failed,completed&limit=5`),
    );
    expect(both.map((l) => l.id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 10; i++) {
      const res = await h.request(
        `/v1/batches/${batchId}/results?status=cancelled&limit=600${after ? `&after=${after}` : ''}`,
      );
      seen.push(...(await lines(res)).map((l) => l.id));
      const next = res.headers.get('x-next-cursor');
      if (!next) break;
      after = next;
    }
    expect(seen).toEqual(Array.from({ length: 1300 }, (_, i) => `d${i + 1201}`));
    await expectError(
      await h.request(`/v1/batches/${batchId}/results?status=queued`),
      400,
      'INVALID_REQUEST',
    );
    await expectError(await h.request(`/v1/batches/${batchId}/results?after=nope`), 400, 'INVALID_REQUEST');
    await expectError(await h.request('/v1/batches/bat_nope/results'), 404, 'NOT_FOUND');
  });

  it('gives JSON pages with Accept: application/json', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.request(
        `/v1/batches/${batchId}/results?limit=1000${cursor ? `&after=${cursor}` : ''}`,
        {
          headers: { accept: 'application/json' },
        },
      );
      const page = await json<{
        object: string;
        data: { id: string }[];
        has_more: boolean;
        next_cursor: string | null;
      }>(res);
      expect(page.object).toBe('list');
      seen.push(...page.data.map((d) => d.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(2500);
    expect(new Set(seen).size).toBe(2500);
    const small = await json<{ data: unknown[] }>(
      await h.request(`/v1/batches/${batchId}/results`, { headers: { accept: 'application/json' } }),
    );
    expect(small.data).toHaveLength(100);
    await expectError(
      await h.request(`/v1/batches/${batchId}/results?limit=1001`, {
        headers: { accept: 'application/json' },
      }),
      400,
      'INVALID_REQUEST',
    );
  });

  it('returns one document by client id', async () => {
    const res = await h.request(`/v1/batches/${batchId}/documents/d7`);
    expect(await json(res)).toEqual({
      id: 'd7',
      status: 'completed',
      text: 'Document number 7. It has two sentences.',
      result: { summary: 'summary 7', sentence_indices: [0] },
      error: null,
      metadata: null,
    });
    await expectError(await h.request(`/v1/batches/${batchId}/documents/zzz`), 404, 'NOT_FOUND');
  });
});

describe('GET /v1/models and /openapi.json', () => {
  it('lists the registry models with the backend the live workers report', async () => {
    const redis = createRedis(h.env.redisUrl, 'worker');
    try {
      const now = new Date().toISOString();
      await writeHeartbeat(
        redis,
        h.env.queuePrefix,
        {
          id: 'w1',
          host: 'h',
          pid: 1,
          started_at: now,
          updated_at: now,
          backend: 'wasm',
          tasks: ['summarization'],
          concurrency: 1,
          active_jobs: 0,
          docs_per_s: 0,
          docs_per_s_series: [],
          series_bucket_s: 10,
          last_tensor_batch_size: 0,
          last_padding_ratio: 0,
          documents_total: 0,
        },
        60_000,
      );
      const body = await json<{ data: { backend: string }[] }>(await h.request('/v1/models'));
      expect(body.data.length).toBeGreaterThan(0);
      expect(body.data.map((m) => m.backend)).toEqual(body.data.map(() => 'wasm'));
      await redis.del(`${h.env.queuePrefix}:workers:w1`);
    } finally {
      redis.disconnect();
    }
  });

  it('lists the registry models with the API process backend when no worker is alive', async () => {
    const body = await json<{ object: string; data: Record<string, unknown>[] }>(
      await h.request('/v1/models'),
    );
    expect(body.object).toBe('list');
    expect(body.data).toEqual(
      expect.arrayContaining([
        {
          id: 'extractive-summarizer@1',
          task: 'summarization',
          backend: 'cpu',
          default: true,
          owned_by: 'system',
        },
        expect.objectContaining({
          id: 'en-es-translator@2',
          task: 'translation',
          source_lang: 'en',
          target_lang: 'es',
          backend: 'cpu',
          default: true,
        }),
      ]),
    );
  });

  it('exposes ingest metrics on /metrics', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/docbatch_batches_created_total\{task="summarization",form="ndjson"\} [1-9]/);
    expect(text).toMatch(/docbatch_documents_ingested_total\{task="summarization"\} [1-9]/);
    expect(text).toMatch(/docbatch_uploads_rejected_total\{code="INVALID_DOCUMENT"\} [1-9]/);
    expect(text).toMatch(/docbatch_uploads_rejected_total\{code="UNSUPPORTED_MEDIA_TYPE"\} [1-9]/);
    expect(text).toContain('docbatch_ingest_seconds_bucket');
    // Prometheus's own linter accepts the API's exposition (issue 17: it exited 3 on `_total` gauges).
    if (hasPromtool) expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    else console.warn('promtool not installed (Debian package prometheus): metrics lint skipped');
  });

  it('serves the OpenAPI document without a key', async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await json<{ openapi: string; paths: Record<string, unknown> }>(res);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/batches');
  });
});
