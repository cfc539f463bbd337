import http from 'node:http';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Issue 16, item 1: slow request bodies are cut off (idle and minimum-rate limits) and one tenant holds
 * at most its share of the upload slots, so another tenant's upload goes through at once. Real Postgres
 * and Redis, real sockets (node:http, chunked bodies sent slowly).
 */

jest.setTimeout(60_000);

let h: ApiHarness;
let other: { key: string; tenantId: string };

beforeAll(async () => {
  h = await startApi({
    DB_POOL_SIZE: '6', // 4 upload slots, 2 per tenant
    UPLOAD_IDLE_TIMEOUT_MS: '2000',
    UPLOAD_MIN_BYTES_PER_SECOND: '1024',
    UPLOAD_RATE_GRACE_MS: '1500',
  });
  other = await h.newTenant('other');
});
afterAll(async () => {
  await h?.stop();
});

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** POSTs an NDJSON body as `chunks`, one every `intervalMs` (then ends, unless `end` is false). */
function slowUpload(key: string, chunks: string[], intervalMs: number, end = true): Promise<Answer> {
  const started = Date.now();
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(err));
    let i = 0;
    const tick = (): void => {
      if (req.destroyed) return;
      if (i < chunks.length) {
        req.write(chunks[i++]!);
        setTimeout(tick, intervalMs);
      } else if (end) {
        req.end();
      }
    };
    req.flushHeaders();
    setTimeout(tick, intervalMs);
  });
}

async function counts(tenantId: string): Promise<{ batches: number; documents: number }> {
  const r = await h.db.pool.query<{ b: number; d: number }>(
    `SELECT (SELECT count(*)::int FROM batches WHERE tenant_id = $1) AS b,
            (SELECT count(*)::int FROM documents d JOIN batches b ON b.id = d.batch_id WHERE b.tenant_id = $1) AS d`,
    [tenantId],
  );
  return { batches: r.rows[0]!.b, documents: r.rows[0]!.d };
}

const docs = (prefix: string, n: number, pad = 0): string[] =>
  Array.from(
    { length: n },
    (_, i) => JSON.stringify({ id: `${prefix}${i}`, text: `document ${i} ${'x'.repeat(pad)}` }) + '\n',
  );

describe('slow request bodies', () => {
  it('a body that sends nothing after its headers is cut off with 408 REQUEST_TIMEOUT, nothing stored', async () => {
    const before = await counts(h.tenantId);
    const res = await slowUpload(h.key, [], 100, false);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'REQUEST_TIMEOUT' } });
    expect(res.body).toMatch(/sent nothing/);
    expect(res.ms).toBeGreaterThanOrEqual(1_400);
    expect(res.ms).toBeLessThan(8_000);
    expect(await counts(h.tenantId)).toEqual(before);
  });

  it('a body trickling 1 byte every 100 ms is cut off by the minimum rate, nothing stored', async () => {
    const before = await counts(h.tenantId);
    const line = docs('t', 1)[0]!;
    const res = await slowUpload(h.key, line.repeat(20).split(''), 100);
    expect(res.status).toBe(408);
    expect(res.body).toMatch(/UPLOAD_MIN_BYTES_PER_SECOND/);
    expect(res.ms).toBeLessThan(8_000);
    expect(await counts(h.tenantId)).toEqual(before);
  });

  it('eight trickling uploads of one tenant do not block another tenant, and all of them end with 408', async () => {
    const line = docs('s', 1)[0]!;
    const slow = Array.from({ length: 8 }, () => slowUpload(h.key, line.repeat(40).split(''), 150));
    await new Promise((r) => setTimeout(r, 500));
    const fast = await slowUpload(other.key, [docs('f', 50).join('')], 10);
    expect(fast.status).toBe(201);
    expect(fast.ms).toBeLessThan(1_500);
    const answers = await Promise.all(slow);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(408));
  });

  it('one tenant holds at most its share of the upload slots; another tenant is not made to wait', async () => {
    const before = await counts(h.tenantId);
    // Five uploads of 2 KiB every 300 ms (well above the minimum rate) for ~3 s each.
    const chunk = docs('p', 8, 2000);
    const steady = Array.from({ length: 5 }, (_, k) =>
      slowUpload(
        h.key,
        chunk.map((c) => c.replace(/"p/g, `"p${k}-`)),
        300,
      ),
    );
    await new Promise((r) => setTimeout(r, 700));
    const fast = await slowUpload(other.key, [docs('g', 50).join('')], 10);
    expect(fast.status).toBe(201);
    expect(fast.ms).toBeLessThan(1_500);
    const answers = await Promise.all(steady);
    expect(answers.map((a) => `${a.status} ${a.status === 201 ? '' : a.body}`.trim())).toEqual(
      Array(5).fill('201'),
    );
    expect(await counts(h.tenantId)).toEqual({
      batches: before.batches + 5,
      documents: before.documents + 40,
    });
  });
});
