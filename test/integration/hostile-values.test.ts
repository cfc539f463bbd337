import { gzipSync } from 'node:zlib';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Issue 16, items 3 and 4: values a client can send that Postgres or Node refuse (NUL, lone surrogates,
 * bad percent-encoding, forged cursors) must get a 4xx with a stable code, never a 500; and what is
 * accepted is stored exactly as sent (no U+FFFD, no dropped `__proto__`). Real Postgres and Redis.
 */

jest.setTimeout(60_000);

const ADMIN_TOKEN = 'hostile-values-admin-token-7d2e';
let h: ApiHarness;
let batchId: string;

type ErrorBody = { error: { code: string; message: string; details?: { line?: number; field?: string }[] } };

beforeAll(async () => {
  h = await startApi({ ADMIN_TOKEN });
  const res = await h.request('/v1/batches?task=classification', {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: '{"id":"d1","text":"hello"}\n',
  });
  expect(res.status).toBe(201);
  batchId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await h?.stop();
});

async function counts(): Promise<{ batches: number; documents: number }> {
  const r = await h.db.pool.query<{ b: number; d: number }>(
    'SELECT (SELECT count(*)::int FROM batches) AS b, (SELECT count(*)::int FROM documents) AS d',
  );
  return { batches: r.rows[0]!.b, documents: r.rows[0]!.d };
}

/** The answer must be one of `statuses` with a contract error body whose code is `code` (never INTERNAL). */
async function refused(res: Response, statuses: number[], code?: string): Promise<ErrorBody['error']> {
  const text = await res.text();
  if (!statuses.includes(res.status)) throw new Error(`${res.url}: ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as ErrorBody;
  expect(body.error.code).not.toBe('INTERNAL');
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${h.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json', ...(init.headers ?? {}) },
  });

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

function ndjson(body: string, query = 'task=classification'): Promise<Response> {
  return h.request(`/v1/batches?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
}
function jsonForm(body: unknown): Promise<Response> {
  return h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('NUL and lone surrogates in uploads are refused with the line and field, nothing stored', () => {
  it.each([
    ['NUL in a document id', '{"id":"a\\u0000b","text":"x"}', 'id'],
    ['NUL in document text', '{"id":"a","text":"x\\u0000y"}', 'text'],
    ['NUL in a document metadata value', '{"id":"a","text":"x","metadata":{"k":"v\\u0000"}}', 'metadata'],
    ['NUL in a document metadata key', '{"id":"a","text":"x","metadata":{"k\\u0000":"v"}}', 'metadata'],
    ['a lone high surrogate in text', '{"id":"a","text":"x\\ud800y"}', 'text'],
    ['a lone low surrogate in an id', '{"id":"a\\udc00","text":"x"}', 'id'],
    ['a lone surrogate in document metadata', '{"id":"a","text":"x","metadata":{"k":"\\udfff"}}', 'metadata'],
  ])('NDJSON: %s -> 400 INVALID_DOCUMENT naming line 2', async (_name, line, field) => {
    const before = await counts();
    const err = await refused(
      await ndjson(`{"id":"ok","text":"fine"}\n${line}\n`),
      [400],
      'INVALID_DOCUMENT',
    );
    expect(err.details).toEqual([
      expect.objectContaining({ line: 2, field: expect.stringContaining(field) }),
    ]);
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['NUL in batch metadata', { metadata: { a: 'x\u0000' } }, 'metadata'],
    [
      'a lone surrogate in batch metadata',
      '{"task":"classification","metadata":{"a":"\\ud800"},"documents":[{"text":"x"}]}',
      'metadata',
    ],
    ['NUL in webhook_url', { webhook_url: 'https://example.com/\u0000hook' }, 'webhook_url'],
    ['NUL in a document id', { documents: [{ id: 'a\u0000', text: 'x' }] }, 'id'],
  ])('JSON form: %s -> 400, nothing stored', async (_name, extra, field) => {
    const before = await counts();
    const body =
      typeof extra === 'string' ? extra : { task: 'classification', documents: [{ text: 'x' }], ...extra };
    const err = await refused(await jsonForm(body), [400]);
    expect(JSON.stringify(err)).toContain(field);
    expect(await counts()).toEqual(before);
  });

  it('NDJSON form: NUL or a lone surrogate in the metadata or webhook_url query parameters -> 400', async () => {
    for (const q of [
      'metadata=' + encodeURIComponent('{"a":"\\u0000"}'),
      'metadata=' + encodeURIComponent('{"a":"\\ud800"}'),
      'metadata=%7B%22a%22%3A%22%FF%22%7D', // invalid UTF-8 in the percent-encoding
      'webhook_url=https%3A%2F%2Fexample.com%2F%00',
      'idempotency_key=%00',
    ]) {
      const before = await counts();
      await refused(await ndjson('{"text":"x"}\n', `task=classification&${q}`), [400]);
      expect(await counts()).toEqual(before);
    }
  });

  it('the six characters \\u0000 written as text inside a JSON string are ordinary text, stored exactly', async () => {
    const text = 'a literal \\u0000 in prose';
    const res = await ndjson(JSON.stringify({ id: 'lit\\u0000', text }) + '\n');
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { id: string }).id;
    const doc = await h.request(`/v1/batches/${id}/documents/${encodeURIComponent('lit\\u0000')}`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { text?: string; id: string }).id).toBe('lit\\u0000');
    const row = await h.db.pool.query<{ text: string }>('SELECT text FROM documents WHERE batch_id = $1', [
      id,
    ]);
    expect(row.rows[0]!.text).toBe(text);
  });
});

/** `{"__proto__":{"x":1},"y":2}` as an object with `__proto__` as its own key (jsonb may reorder keys). */
function protoKept(v: unknown): boolean {
  const o = v as Record<string, unknown>;
  return (
    Object.keys(o).sort().join(',') === '__proto__,y' &&
    JSON.stringify(Object.getOwnPropertyDescriptor(o, '__proto__')?.value) === '{"x":1}' &&
    o.y === 2
  );
}

describe('stored exactly as sent, or refused', () => {
  it('two ids differing only in lone surrogates are refused, not stored as colliding U+FFFD', async () => {
    const before = await counts();
    await refused(
      await ndjson('{"id":"x\\ud800","text":"a"}\n{"id":"x\\ud801","text":"b"}\n'),
      [400],
      'INVALID_DOCUMENT',
    );
    expect(await counts()).toEqual(before);
  });

  it('__proto__ keys in metadata are kept (document and batch), not silently dropped', async () => {
    const meta = '{"__proto__":{"x":1},"y":2}';
    const res = await ndjson(
      `{"id":"p1","text":"hello","metadata":${meta}}\n`,
      `task=classification&metadata=${encodeURIComponent(meta)}`,
    );
    expect(res.status).toBe(201);
    const batch = (await res.json()) as { id: string };
    const rowB = await h.db.pool.query<{ m: string }>(
      'SELECT metadata::text AS m FROM batches WHERE id = $1',
      [batch.id],
    );
    expect(JSON.parse(rowB.rows[0]!.m)).toEqual(JSON.parse('{"__proto__":{"x":1},"y":2}'));
    expect(rowB.rows[0]!.m).toContain('__proto__');
    const got = (await (await h.request(`/v1/batches/${batch.id}`)).json()) as { metadata: unknown };
    expect(protoKept(got.metadata)).toBe(true);
    const rowD = await h.db.pool.query<{ m: string }>(
      'SELECT metadata::text AS m FROM documents WHERE batch_id = $1',
      [batch.id],
    );
    expect(rowD.rows[0]!.m).toContain('__proto__');

    const viaJson = await jsonForm(
      `{"task":"classification","metadata":${meta},"documents":[{"text":"x","metadata":${meta}}]}`,
    );
    expect(viaJson.status).toBe(201);
    const jb = (await viaJson.json()) as { id: string; metadata: unknown };
    expect(protoKept(jb.metadata)).toBe(true);
  });

  it('unknown query parameters are refused, __proto__ included', async () => {
    for (const q of ['__proto__=x', 'constructor=x', 'colour=red']) {
      const before = await counts();
      const err = await refused(
        await ndjson('{"text":"x"}\n', `task=classification&${q}`),
        [400],
        'INVALID_REQUEST',
      );
      expect(JSON.stringify(err)).toContain(q.split('=')[0]!);
      expect(await counts()).toEqual(before);
    }
    await refused(await h.request('/v1/batches?__proto__=1'), [400], 'INVALID_REQUEST');
  });
});

describe('path ids and cursors a client can forge get 4xx, never 500', () => {
  const ids = ['%00', '%', '%ED%A0%80', '%FF', 'a%00b', '%E2%82'];

  it.each(ids)('batch routes with id %s', async (id) => {
    await refused(await h.request(`/v1/batches/${id}`), [400, 404]);
    await refused(await h.request(`/v1/batches/${id}/cancel`, { method: 'POST' }), [400, 404]);
    await refused(await h.request(`/v1/batches/${id}/retry`, { method: 'POST' }), [400, 404]);
    await refused(await h.request(`/v1/batches/${id}/results`), [400, 404]);
    await refused(await h.request(`/v1/batches/${id}/documents/d1`), [400, 404]);
    await refused(await h.request(`/v1/batches/${batchId}/documents/${id}`), [400, 404]);
    await refused(await h.request(`/v1/batches/${id}/webhook_deliveries`), [400, 404]);
  });

  it.each(ids)('webhook delivery routes with id %s', async (id) => {
    await refused(
      await h.request(`/v1/batches/${id}/webhook_deliveries/whd_x/redeliver`, { method: 'POST' }),
      [400, 404],
    );
    await refused(
      await h.request(`/v1/batches/${batchId}/webhook_deliveries/${id}/redeliver`, { method: 'POST' }),
      [400, 404],
    );
  });

  it.each(ids)('admin routes with id %s', async (id) => {
    await refused(await admin(`/admin/api/batches/${id}`), [400, 404]);
    await refused(await admin(`/admin/batches/${id}`), [400, 404]);
    await refused(await admin(`/admin/batches/${id}/cancel`, { method: 'POST' }), [400, 404]);
  });

  it.each([
    ['a timestamp beyond year 9999', b64({ k: 'b', c: '+275760-09-13T00:00:00.000Z', i: 'bat_x' })],
    ['a timestamp before year 1', b64({ k: 'b', c: '-271821-04-20T00:00:00.000Z', i: 'bat_x' })],
    [
      'a date string Postgres cannot read',
      b64({ k: 'b', c: 'Tue, 01 Jan 2030 00:00:00 GMT+99', i: 'bat_x' }),
    ],
    ['an id with NUL', b64({ k: 'b', c: '2026-01-01T00:00:00.000Z', i: 'bat_\u0000' })],
    ['an id with a lone surrogate', b64({ k: 'b', c: '2026-01-01T00:00:00.000Z', i: 'bat_\ud800' })],
  ])('batch list cursor with %s -> 400 INVALID_REQUEST', async (_name, cursor) => {
    await refused(await h.request(`/v1/batches?after=${cursor}`), [400], 'INVALID_REQUEST');
    await refused(await admin(`/admin/api/batches?after=${cursor}`), [400], 'INVALID_REQUEST');
  });

  it.each([
    ['s beyond int4', b64({ k: 'r', s: 2 ** 31 })],
    ['s = 1e300', '{"k":"r","s":1e300}'],
    ['s beyond int8', b64({ k: 'r', s: 2 ** 64 })],
  ])('results cursor with %s -> 400 INVALID_REQUEST', async (_name, cursor) => {
    const c = cursor.startsWith('{') ? Buffer.from(cursor).toString('base64url') : cursor;
    await refused(await h.request(`/v1/batches/${batchId}/results?after=${c}`), [400], 'INVALID_REQUEST');
    await refused(
      await h.request(`/v1/batches/${batchId}/results?after=${c}`, {
        headers: { accept: 'application/json' },
      }),
      [400],
      'INVALID_REQUEST',
    );
  });

  it('admin search and filters with NUL or bad encoding -> 4xx', async () => {
    for (const q of ['q=%00', 'q=%', 'q=%ED%A0%80', 'tenant=%00', 'status=%00', 'after=%00']) {
      await refused(await admin(`/admin/api/batches?${q}`), [400]);
    }
  });

  it('the server still serves afterwards', async () => {
    expect((await h.request(`/v1/batches/${batchId}`)).status).toBe(200);
  });
});

describe('compression and blank-line bombs are refused quickly (issue 16, item 2)', () => {
  it('a gzip body inflating 1,000x (64 MiB of blank lines from 64 KB) is 413 within seconds, nothing stored', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 ** 2, 0x0a), { level: 9 });
    expect(bomb.length).toBeLessThan(200 * 1024);
    const before = await counts();
    const started = Date.now();
    const res = await h.request('/v1/batches?task=classification', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: bomb,
    });
    const err = await refused(res, [413], 'PAYLOAD_TOO_LARGE');
    expect(err.message).toMatch(/GZIP_MAX_RATIO/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await counts()).toEqual(before);
  });

  it('an ordinary gzip NDJSON body (a few times smaller) is accepted', async () => {
    const body = Array.from({ length: 2000 }, (_, i) =>
      JSON.stringify({ id: `g${i}`, text: `document number ${i} about the weather` }),
    ).join('\n');
    const res = await h.request('/v1/batches?task=classification', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.from(body)),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { counts: { total: number } }).counts.total).toBe(2000);
  });

  it('64 MiB of blank lines (uncompressed) is answered in seconds: no documents', async () => {
    const before = await counts();
    const started = Date.now();
    const res = await h.request('/v1/batches?task=classification', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: Buffer.alloc(64 * 1024 ** 2, 0x0a),
    });
    await refused(res, [400], 'INVALID_REQUEST');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await counts()).toEqual(before);
  });

  it('blank lines before a document are refused with their line numbers (first 100)', async () => {
    const res = await ndjson('\n'.repeat(150) + '{"text":"x"}\n');
    const err = await refused(res, [400], 'INVALID_DOCUMENT');
    expect(err.details?.map((d) => d.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});

describe('smaller defects (issue 16, item 8)', () => {
  const submitWithHook = (webhook_url: string): Promise<Response> =>
    jsonForm({ task: 'classification', documents: [{ text: 'x' }], webhook_url });

  it.each([
    [
      'a 2,049-character webhook_url',
      `https://example.com/${'a'.repeat(2049 - 'https://example.com/'.length)}`,
    ],
    ['localhost.. (trailing dots)', 'http://localhost../hook'],
    ['an IPv4-translated loopback (::ffff:0:7f00:1)', 'http://[::ffff:0:7f00:1]/hook'],
    ['an IPv4-translated private address (::ffff:0:a00:1)', 'http://[::ffff:0:a00:1]/hook'],
  ])('%s is 400 INVALID_WEBHOOK_URL at submit, nothing stored', async (_name, url) => {
    const before = await counts();
    await refused(await submitWithHook(url), [400], 'INVALID_WEBHOOK_URL');
    expect(await counts()).toEqual(before);
  });

  it('a results cursor of another batch is refused', async () => {
    const res = await ndjson('{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n');
    const other = ((await res.json()) as { id: string }).id;
    // A cursor the API made for `batchId` (the first batch of this file), by the results pages.
    const cursor = Buffer.from(JSON.stringify({ k: 'r', s: 1, b: batchId })).toString('base64url');
    const page = await h.request(`/v1/batches/${batchId}/results?after=${cursor}`, {
      headers: { accept: 'application/json' },
    });
    expect(page.status).toBe(200);
    const err = await refused(
      await h.request(`/v1/batches/${other}/results?after=${cursor}`, {
        headers: { accept: 'application/json' },
      }),
      [400],
      'INVALID_REQUEST',
    );
    expect(err.message).toMatch(/another batch/);
  });

  it('per-document metadata over 64 KiB of JSON (e.g. 100,000 keys) is refused with its line', async () => {
    const before = await counts();
    const big = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 1]));
    const err = await refused(
      await ndjson(`{"text":"ok"}\n${JSON.stringify({ text: 'x', metadata: big })}\n`),
      [400],
      'INVALID_DOCUMENT',
    );
    expect(err.details).toEqual([expect.objectContaining({ line: 2, field: 'metadata' })]);
    expect(await counts()).toEqual(before);
    const fine = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v']));
    expect((await ndjson(`${JSON.stringify({ text: 'x', metadata: fine })}\n`)).status).toBe(201);
  });

  it('headers too large get 431 with the contract error body', async () => {
    const res = await fetch(`${h.url}/v1/batches`, { headers: { 'x-big': 'a'.repeat(64 * 1024) } });
    expect(res.status).toBe(431);
    expect(await res.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
  });
});

describe('memory of the JSON form (issue 16, item 7)', () => {
  it('concurrent large JSON bodies are read within JSON_BODY_MEMORY_BYTES, and all of them are stored', async () => {
    const budgeted = await startApi({ JSON_BODY_MEMORY_BYTES: String(24 * 1024 ** 2) }, h.env);
    try {
      const body = (k: number): string =>
        JSON.stringify({
          task: 'classification',
          documents: Array.from({ length: 2500 }, (_, i) => ({
            id: `m${k}-${i}`,
            text: `${k} ${i} ${'y'.repeat(4000)}`,
          })),
        });
      const size = Buffer.byteLength(body(0));
      expect(size).toBeGreaterThan(9 * 1024 ** 2);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, k) =>
          budgeted.request('/v1/batches', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: body(k),
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
      const metrics = await (await fetch(`${budgeted.url}/metrics`)).text();
      const peak = Number(/docbatch_json_body_bytes\{state="peak"\} (\d+)/.exec(metrics)?.[1]);
      // At most two ~10 MB bodies at once (six would be 60 MB), and nothing is left reserved.
      expect(peak).toBeGreaterThanOrEqual(size);
      expect(peak).toBeLessThanOrEqual(24 * 1024 ** 2);
      expect(metrics).toMatch(/docbatch_json_body_bytes\{state="reserved"\} 0\b/);
    } finally {
      await budgeted.stop();
    }
  });
});
