import http from 'node:http';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Issue 16 (reads fast during upload bursts): with ingest threads, an upload's whole transaction runs
 * on a connection of its ingest thread (application_name docbatch-ingest), so the COPY's socket writes
 * stay off the API's event loop. The upload still fails at once, stores nothing and answers 503 when
 * that connection is cut while the body is idle, on that path and on the one without ingest threads.
 * Real Postgres and Redis, real sockets (a chunked body sent in pieces).
 */

jest.setTimeout(60_000);

interface Answer {
  status: number;
  body: string;
  at: number;
}

/** POSTs `chunks` of an NDJSON body, one every `intervalMs`; `hold` ms after the last, ends it. */
function upload(h: ApiHarness, key: string, chunks: string[], intervalMs: number, hold = 0): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${h.url}/v1/batches?task=classification`);
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body, at: Date.now() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      if (req.destroyed) return;
      if (i < chunks.length) {
        req.write(chunks[i++]!);
        timer = setTimeout(tick, i < chunks.length ? intervalMs : hold);
      } else req.end();
    };
    req.flushHeaders();
    timer = setTimeout(tick, 10);
  });
}

const lines = (from: number, n: number): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `d${from + i}`, text: `document ${from + i}` }))
    .join('\n')
    .concat('\n');

/** The backends running the COPY of an upload, with their application_name. */
async function copyBackends(h: ApiHarness): Promise<{ pid: number; application_name: string }[]> {
  const r = await h.db.pool.query<{ pid: number; application_name: string }>(
    `SELECT pid, application_name FROM pg_stat_activity
      WHERE query LIKE 'COPY documents%' AND pid <> pg_backend_pid()`,
  );
  return r.rows;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function storedFor(h: ApiHarness, tenantId: string): Promise<{ batches: number; documents: number }> {
  const r = await h.db.pool.query<{ b: number; d: number }>(
    `SELECT (SELECT count(*)::int FROM batches WHERE tenant_id = $1) AS b,
            (SELECT count(*)::int FROM documents d JOIN batches b ON b.id = d.batch_id WHERE b.tenant_id = $1) AS d`,
    [tenantId],
  );
  return { batches: r.rows[0]!.b, documents: r.rows[0]!.d };
}

describe.each([
  ['1', 'docbatch-ingest'],
  ['0', ''],
])('INGEST_THREADS=%s: an upload', (threads, appName) => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ INGEST_THREADS: threads, UPLOAD_IDLE_TIMEOUT_MS: '20000' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it(`runs its COPY on ${threads === '1' ? "the ingest thread's connection" : 'the API pool'} and stores every document`, async () => {
    const t = await h.newTenant(`copy-${threads}`);
    const answer = upload(h, t.key, [lines(0, 50), lines(50, 50), lines(100, 50), lines(150, 50)], 300);
    const backends = await waitFor('the COPY', async () => {
      const b = await copyBackends(h);
      return b.length > 0 ? b : undefined;
    });
    expect(backends.map((b) => b.application_name)).toEqual([appName]);
    const a = await answer;
    expect(a.status).toBe(201);
    expect(JSON.parse(a.body)).toMatchObject({ counts: { total: 200, queued: 200 } });
    expect(await storedFor(h, t.tenantId)).toEqual({ batches: 1, documents: 200 });
    // The connection serves the next upload (returned to its pool after COMMIT).
    const again = await upload(h, t.key, [lines(0, 20), lines(20, 20)], 50);
    expect(again.status).toBe(201);
    expect(await storedFor(h, t.tenantId)).toEqual({ batches: 2, documents: 240 });
  });

  it('with a duplicate id across the body is refused with its line, and nothing is stored', async () => {
    const t = await h.newTenant(`dup-${threads}`);
    const a = await upload(h, t.key, [lines(0, 30), lines(10, 1)], 100);
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).error).toMatchObject({
      code: 'DUPLICATE_DOCUMENT_ID',
      details: [expect.objectContaining({ line: 31 })],
    });
    expect(await storedFor(h, t.tenantId)).toEqual({ batches: 0, documents: 0 });
  });
});

describe.each([
  ['1', 'docbatch-ingest'],
  ['0', ''],
])('INGEST_THREADS=%s: the connection cut while the body is idle', (threads, appName) => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ INGEST_THREADS: threads, UPLOAD_IDLE_TIMEOUT_MS: '20000' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('fails the upload at once with 503, stores nothing, and the next upload goes through', async () => {
    const t = await h.newTenant(`cut-${threads}`);
    // Two pieces, then a 15 s pause (under the idle limit) before the end of the body.
    const answer = upload(h, t.key, [lines(0, 40), lines(40, 40)], 200, 15_000);
    const backend = await waitFor('the COPY', async () => (await copyBackends(h))[0]);
    expect(backend.application_name).toBe(appName);
    await new Promise((r) => setTimeout(r, 500)); // the body is idle now
    const cutAt = Date.now();
    await h.db.pool.query('SELECT pg_terminate_backend($1)', [backend.pid]);
    const a = await answer;
    expect(a.at - cutAt).toBeLessThan(5_000);
    expect(a.status).toBe(503);
    expect(JSON.parse(a.body).error.code).toBe('UNAVAILABLE');
    expect(await storedFor(h, t.tenantId)).toEqual({ batches: 0, documents: 0 });
    const next = await upload(h, t.key, [lines(0, 10), lines(10, 10)], 50);
    expect(next.status).toBe(201);
    expect(await storedFor(h, t.tenantId)).toEqual({ batches: 1, documents: 20 });
  });
});
