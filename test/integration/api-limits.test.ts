import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

// jest.config sets testTimeout per project, which jest does not apply; set it here.
jest.setTimeout(90_000);

type ErrorBody = {
  error: { code: string; message: string; details?: { line?: number; field?: string; message: string }[] };
};

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json<ErrorBody>(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}

const ndjsonPost = (h: ApiHarness, body: string, query = '?task=summarization', key?: string) =>
  h.request(`/v1/batches${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
    key,
  });

async function countRows(h: ApiHarness): Promise<{ batches: number; documents: number; keys: number }> {
  const r = await h.db.pool.query<{ b: number; d: number; k: number }>(
    `SELECT (SELECT count(*)::int FROM batches) AS b, (SELECT count(*)::int FROM documents) AS d,
            (SELECT count(*)::int FROM idempotency_keys) AS k`,
  );
  const row = r.rows[0] as { b: number; d: number; k: number };
  return { batches: row.b, documents: row.d, keys: row.k };
}

/**
 * Streams `totalBytes` of NDJSON to the API with chunked encoding (no Content-Length), lazily, and
 * resolves with the response status, body and how many bytes the client managed to send.
 */
function streamUpload(
  url: string,
  key: string,
  totalBytes: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; sent: number }> {
  return new Promise((resolve, reject) => {
    const line = JSON.stringify({ text: 'x'.repeat(1000) }) + '\n';
    let sent = 0;
    let done = false;
    const req = http.request(`${url}/v1/batches?task=summarization`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson', ...headers },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode ?? 0, body, sent });
      });
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
    const pump = (): void => {
      while (!done && sent < totalBytes) {
        sent += line.length;
        if (!req.write(line)) {
          req.once('drain', pump);
          return;
        }
      }
      if (sent >= totalBytes) req.end();
    };
    pump();
  });
}

describe('limits', () => {
  let env: TestEnvironment;
  let h: ApiHarness;
  beforeAll(async () => {
    env = await createTestEnvironment();
    h = await startApi(
      {
        RATE_LIMIT_PER_MINUTE: '100000',
        MAX_BODY_BYTES: String(256 * 1024),
        MAX_JSON_BODY_BYTES: String(8 * 1024),
        MAX_DOCS_PER_BATCH: '50',
        MAX_DOC_CHARS: '20',
        MAX_ACTIVE_BATCHES: '2',
      },
      env,
    );
  });
  afterAll(async () => {
    await h.stop();
    await env.cleanup();
  });

  it('answers 413 from Content-Length before reading the body', async () => {
    const before = await countRows(h);
    const res = await h
      .request('/v1/batches?task=summarization', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'content-length': String(300 * 1024) },
        body: 'x'.repeat(300 * 1024),
      })
      .catch((err: unknown) => err as Error);
    // The server may close the connection while the client still sends: either way, nothing is stored.
    if (res instanceof Response) await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    const json413 = await h.request('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'summarization', documents: [{ text: 'y'.repeat(9000) }] }),
    });
    await expectError(json413, 413, 'PAYLOAD_TOO_LARGE');
    expect(await countRows(h)).toEqual(before);
  });

  it('cuts off a streamed body past MAX_BODY_BYTES without reading it to the end', async () => {
    const before = await countRows(h);
    const total = 64 * 1024 * 1024;
    const out = await streamUpload(h.url, h.key, total);
    expect(out.status).toBe(413);
    expect(JSON.parse(out.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(out.sent).toBeLessThan(total / 4);
    expect(await countRows(h)).toEqual(before);
  });

  it('applies MAX_BODY_BYTES to the decompressed bytes of a gzip body', async () => {
    const before = await countRows(h);
    // One 10 MB line: only the byte count can stop it (the line never completes under the limit).
    const bomb = gzipSync(Buffer.from(`{"text":"${'a'.repeat(10_000_000)}"}\n`));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const res = await h.request('/v1/batches?task=summarization', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: bomb,
    });
    const body = await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(body.error.message).toContain('bytes');
    expect(await countRows(h)).toEqual(before);
  });

  it('refuses more than MAX_DOCS_PER_BATCH documents and texts over MAX_DOC_CHARS', async () => {
    const before = await countRows(h);
    const tooMany = await ndjsonPost(h, ndjson(51, { ids: false, text: () => 'short' }));
    await expectError(tooMany, 413, 'PAYLOAD_TOO_LARGE');
    const long = await ndjsonPost(
      h,
      '{"text":"ok"}\n{"text":"' + 'é'.repeat(21) + '"}\n{"text":"' + '😀'.repeat(20) + '"}\n',
    );
    const body = await expectError(long, 400, 'INVALID_DOCUMENT');
    expect(body.error.details).toEqual([
      { line: 2, field: 'text', message: 'must be at most 20 characters' },
    ]);
    expect(await countRows(h)).toEqual(before);
  });

  it('caps active batches per tenant with 429 TOO_MANY_ACTIVE_BATCHES', async () => {
    const t = await h.newTenant('busy');
    const doc = '{"text":"hello"}\n';
    const a = await ndjsonPost(h, doc, undefined, t.key);
    const b = await ndjsonPost(h, doc, undefined, t.key);
    expect([a.status, b.status]).toEqual([201, 201]);
    const c = await ndjsonPost(h, doc, undefined, t.key);
    await expectError(c, 429, 'TOO_MANY_ACTIVE_BATCHES');
    expect(c.headers.get('retry-after')).toMatch(/^\d+$/);
    // Cancelling one frees a slot.
    const first = await json<{ id: string }>(a);
    await h.request(`/v1/batches/${first.id}/cancel`, { method: 'POST', key: t.key });
    expect((await ndjsonPost(h, doc, undefined, t.key)).status).toBe(201);
  });

  it('never lets concurrent uploads overshoot the active cap', async () => {
    const t = await h.newTenant('racer');
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        ndjsonPost(h, ndjson(40, { ids: false, text: () => 'abc' }), undefined, t.key),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 429, 429, 429, 429]);
    const n = await h.db.pool.query('SELECT count(*)::int AS n FROM batches WHERE tenant_id = $1', [
      t.tenantId,
    ]);
    expect(n.rows[0].n).toBe(2);
  });
});

describe('rate limit', () => {
  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, per tenant', async () => {
    const h = await startApi({ RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const doc = '{"text":"hello"}\n';
      for (let i = 0; i < 3; i++) expect((await ndjsonPost(h, doc)).status).toBe(201);
      const before = await countRows(h);
      const limited = await ndjsonPost(h, doc);
      const body = await expectError(limited, 429, 'RATE_LIMITED');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(body.error.message).toContain('3 per minute');
      expect(await countRows(h)).toEqual(before);
      // Another tenant has its own budget; reads are not limited.
      const other = await h.newTenant('other');
      expect((await ndjsonPost(h, doc, undefined, other.key)).status).toBe(201);
      expect((await h.request('/v1/batches')).status).toBe(200);
    } finally {
      await h.stop();
    }
  });
});

describe('all-or-nothing', () => {
  it('a 100,001-line upload with one bad line at 99,999 leaves no batch, no document, no key and no job', async () => {
    const h = await startApi();
    try {
      const lines: string[] = [];
      for (let i = 1; i <= 100_001; i++) {
        lines.push(
          i === 99_999 ? '{"id":"bad","text":""}' : `{"id":"doc-${i}","text":"Document ${i} says hello."}`,
        );
      }
      const res = await h.request('/v1/batches?task=summarization', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'big-upload' },
        body: lines.join('\n') + '\n',
      });
      const body = await expectError(res, 400, 'INVALID_DOCUMENT');
      expect(body.error.details).toEqual([
        { line: 99_999, field: 'text', message: 'must be a non-empty string' },
      ]);
      expect(await countRows(h)).toEqual({ batches: 0, documents: 0, keys: 0 });
      expect(await h.chunkJobs('summarization')).toEqual([]);
      const redis = new Redis(h.env.redisUrl);
      try {
        const keys = await redis.keys(`${h.env.queuePrefix}:chunks-*`);
        expect(keys.filter((k) => !k.endsWith(':meta') && !k.endsWith(':id'))).toEqual([]);
      } finally {
        redis.disconnect();
      }
      // The same upload fixed succeeds with the same key.
      lines[99_998] = '{"id":"fixed","text":"fixed"}';
      const ok = await h.request('/v1/batches?task=summarization', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'big-upload' },
        body: lines.join('\n') + '\n',
      });
      expect(ok.status).toBe(201);
      expect(await countRows(h)).toEqual({ batches: 1, documents: 100_001, keys: 1 });
      expect(await h.chunkJobs('summarization')).toHaveLength(Math.ceil(100_001 / 512));
    } finally {
      await h.stop();
    }
  });
});

describe('backing services down', () => {
  it('answers 503 UNAVAILABLE while Postgres or Redis is unreachable, stores nothing, and recovers', async () => {
    const env = await createTestEnvironment();
    const pgProxy = new TcpProxy('127.0.0.1', Number(new URL(env.databaseUrl).port || 5432));
    const redisProxy = new TcpProxy('127.0.0.1', Number(new URL(env.redisUrl).port || 6379));
    await pgProxy.start();
    await redisProxy.start();
    const dbUrl = new URL(env.databaseUrl);
    dbUrl.port = String(pgProxy.port);
    const h = await startApi(
      { DATABASE_URL: dbUrl.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` },
      env,
    );
    try {
      expect((await ndjsonPost(h, ndjson(10))).status).toBe(201);
      const before = await countRows(h);

      await redisProxy.stop();
      const r1 = await ndjsonPost(h, ndjson(10));
      await expectError(r1, 503, 'UNAVAILABLE');
      expect(r1.headers.get('retry-after')).toBe('5');
      expect(await countRows(h)).toEqual(before);
      await redisProxy.start();
      let ok = 0;
      for (let i = 0; i < 100 && ok !== 201; i++) {
        ok = (await ndjsonPost(h, ndjson(10))).status;
        if (ok !== 201) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok).toBe(201);
      const after = await countRows(h);

      await pgProxy.stop();
      await expectError(await ndjsonPost(h, ndjson(10)), 503, 'UNAVAILABLE');
      await expectError(await h.request('/v1/batches'), 503, 'UNAVAILABLE');
      await pgProxy.start();
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await h.request('/v1/batches')).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect(await countRows(h)).toEqual(after);
    } finally {
      await h.stop();
      await pgProxy.stop();
      await redisProxy.stop();
      await env.cleanup();
    }
  });
});

/** Starts a chunked NDJSON upload that sends `lines` documents and then waits; returns the request. */
function openUpload(
  url: string,
  key: string,
  lines: number,
): Promise<{ req: http.ClientRequest; response: Promise<{ status: number; body: string }> }> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/v1/batches?task=summarization`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });
    const response = new Promise<{ status: number; body: string }>((res, rej) => {
      req.on('response', (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', rej);
    });
    response.catch(() => undefined);
    let out = '';
    for (let i = 1; i <= lines; i++) out += `{"text":"document ${i}"}\n`;
    req.write(out, () => resolve({ req, response }));
  });
}

describe('interrupted uploads', () => {
  it('stores nothing when the client goes away mid-upload or Postgres fails mid-COPY', async () => {
    const env = await createTestEnvironment();
    const pgProxy = new TcpProxy('127.0.0.1', Number(new URL(env.databaseUrl).port || 5432));
    await pgProxy.start();
    const dbUrl = new URL(env.databaseUrl);
    dbUrl.port = String(pgProxy.port);
    const h = await startApi({ DATABASE_URL: dbUrl.toString() }, env);
    const activeCopies = async (): Promise<number> => {
      const r = await h.db.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY documents%'`,
      );
      return r.rows[0].n as number;
    };
    try {
      // The client disconnects after 20,000 documents.
      const up = await openUpload(h.url, h.key, 20_000);
      await waitFor(async () => (await activeCopies()) === 1, 'the COPY to start');
      up.req.destroy();
      await waitFor(async () => (await activeCopies()) === 0, 'the COPY to be abandoned');
      expect(await countRows(h)).toEqual({ batches: 0, documents: 0, keys: 0 });

      // Postgres goes away in the middle of the COPY: 503, and nothing is stored.
      const up2 = await openUpload(h.url, h.key, 20_000);
      await waitFor(async () => (await activeCopies()) === 1, 'the second COPY to start');
      await pgProxy.stop();
      const res = await up2.response;
      expect(res).toMatchObject({ status: 503 });
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      up2.req.destroy();
      await pgProxy.start();
      await waitFor(async () => (await activeCopies()) === 0, 'the server to roll back');
      expect(await countRows(h)).toEqual({ batches: 0, documents: 0, keys: 0 });
      expect(await h.chunkJobs('summarization')).toEqual([]);
      // And the API recovers.
      await waitFor(
        async () => (await ndjsonPost(h, ndjson(3))).status === 201,
        'a batch after Postgres returns',
      );
    } finally {
      await h.stop();
      await pgProxy.stop();
      await env.cleanup();
    }
  });
});

describe('concurrent uploads', () => {
  it('are bounded per process so reads keep a database connection, and queue for a slot', async () => {
    const h = await startApi({ DB_POOL_SIZE: '3' });
    try {
      const copies = async (): Promise<number> => {
        const r = await h.db.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY documents%'`,
        );
        return r.rows[0].n as number;
      };
      const first = await openUpload(h.url, h.key, 100);
      await waitFor(async () => (await copies()) === 1, 'the first upload to hold its slot');
      const second = ndjsonPost(h, ndjson(2));
      // The second upload waits for the slot; reads are served meanwhile.
      expect((await h.request('/v1/batches')).status).toBe(200);
      expect((await h.request('/v1/models')).status).toBe(200);
      expect(await copies()).toBe(1);
      first.req.end();
      expect((await first.response).status).toBe(201);
      expect((await second).status).toBe(201);
    } finally {
      await h.stop();
    }
  });
});
