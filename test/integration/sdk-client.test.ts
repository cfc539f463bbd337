import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConnectionError,
  DocBatchClient,
  InvalidRequestError,
  RateLimitError,
  ServerError,
} from '@docbatch/sdk';
import type { Batch, DocumentInput } from '@docbatch/sdk';

/**
 * The SDK against small local HTTP servers that misbehave on purpose: rate limits with
 * Retry-After, 503s, connections reset mid-request and results streams cut mid-line.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyHash: string;
  bodyLines: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, n: number) => void;

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyHash: createHash('sha256').update(body).digest('hex'),
        bodyLines: body.toString('utf8').split('\n').filter(Boolean).length,
      });
      handler(req, res, body, seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const counts = { total: 2, queued: 2, running: 0, completed: 0, failed: 0, cancelled: 0, expired: 0 };
function batch(status: Batch['status'] = 'queued', done = 0): Batch {
  return {
    id: 'bat_1',
    object: 'batch',
    task: 'classification',
    model: 'spam-classifier@1',
    status,
    counts: { ...counts, queued: 2 - done, completed: done },
    options: {},
    metadata: {},
    priority: 5,
    webhook_url: null,
    completion_window: '24h',
    error: null,
    created_at: '2026-11-23T10:00:00.000Z',
    started_at: null,
    finished_at: null,
    expires_at: '2026-11-24T10:00:00.000Z',
    throughput_docs_per_s: null,
    eta_s: null,
    data_expires_at: null,
  };
}
const rateLimited = { error: { code: 'RATE_LIMITED', message: 'Too many batches; retry later.' } };
const unavailable = {
  error: { code: 'UNAVAILABLE', message: 'A backing service is unavailable; retry shortly.' },
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-sdk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fast = { apiKey: 'dbk_test', minRetryDelayMs: 10, maxRetryDelayMs: 50 };

describe('retries', () => {
  it('waits for Retry-After on 429 and resends the create with the same Idempotency-Key and body', async () => {
    const srv = await serve((_req, res, _body, n) =>
      n === 1 ? json(res, 429, rateLimited, { 'retry-after': '1' }) : json(res, 201, batch()),
    );
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const started = Date.now();
      const b = await client.createBatch({
        task: 'classification',
        documents: [{ text: 'a' }, { text: 'b' }],
      });
      expect(b.id).toBe('bat_1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(srv.seen).toHaveLength(2);
      const [first, second] = srv.seen as [Seen, Seen];
      expect(first.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(second.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
      expect(second.bodyHash).toBe(first.bodyHash);
      expect(first.headers['authorization']).toBe('Bearer dbk_test');
      expect(first.headers['content-type']).toBe('application/json');
    } finally {
      await srv.close();
    }
  });

  it('gives each logical create its own Idempotency-Key', async () => {
    const srv = await serve((_req, res) => json(res, 201, batch()));
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      await client.createBatch({ task: 'classification', documents: [{ text: 'a' }] });
      await client.createBatch({ task: 'classification', documents: [{ text: 'a' }] });
      await client.createBatch(
        { task: 'classification', documents: [{ text: 'a' }] },
        { idempotencyKey: 'mine' },
      );
      const keys = srv.seen.map((s) => s.headers['idempotency-key']);
      expect(new Set(keys).size).toBe(3);
      expect(keys[2]).toBe('mine');
    } finally {
      await srv.close();
    }
  });

  it('throws a RateLimitError with retryAfter when Retry-After is longer than it will wait', async () => {
    const srv = await serve((_req, res) => json(res, 429, rateLimited, { 'retry-after': '120' }));
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url, maxRetryAfterMs: 5_000 });
      const err = await client.getBatch('bat_1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfter: 120 });
      expect(srv.seen).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });

  it('backs off on 503 and gives up after `retries` with a typed error', async () => {
    const srv = await serve((_req, res) => json(res, 503, unavailable));
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url, retries: 3 });
      const err = await client.getBatch('bat_1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServerError);
      expect(err).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
      expect(srv.seen).toHaveLength(4);
    } finally {
      await srv.close();
    }
  });

  it('re-sends a streamed NDJSON file after a connection reset, byte for byte, with the same key', async () => {
    const file = path.join(dir, 'docs.ndjson');
    const lines = Array.from({ length: 5_000 }, (_, i) =>
      JSON.stringify({ id: `d${i}`, text: `text ${i} `.repeat(20) }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
    const srv = await serve((req, res, _body, n) => {
      if (n === 1) req.socket.destroy();
      else json(res, 201, batch());
    });
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const progress: number[] = [];
      await client.createBatch(
        { task: 'classification', documents: file, options: { top_k: 1 }, priority: 2 },
        { onUploadProgress: (p) => progress.push(p.documents) },
      );
      expect(srv.seen).toHaveLength(2);
      const [a, b] = srv.seen as [Seen, Seen];
      expect(a.bodyLines).toBe(5_000);
      expect(b.bodyHash).toBe(a.bodyHash);
      expect(b.headers['idempotency-key']).toBe(a.headers['idempotency-key']);
      expect(a.headers['content-type']).toBe('application/x-ndjson');
      const q = new URL(a.url, srv.url).searchParams;
      expect([q.get('task'), q.get('options'), q.get('priority')]).toEqual([
        'classification',
        '{"top_k":1}',
        '2',
      ]);
      expect(progress[progress.length - 1]).toBe(5_000);
    } finally {
      await srv.close();
    }
  });

  it('does not resend a one-shot iterable it already read, but does resend a factory', async () => {
    const srv = await serve((_req, res, _body, n) =>
      n === 1 ? json(res, 503, unavailable) : json(res, 201, batch()),
    );
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      async function* docs(): AsyncGenerator<DocumentInput> {
        for (let i = 0; i < 1_000; i++) yield { id: String(i), text: `doc ${i}` };
      }
      await expect(client.createBatch({ task: 'classification', documents: docs() })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
      expect(srv.seen).toHaveLength(1);
      await expect(
        client.createBatch({ task: 'classification', documents: () => docs() }),
      ).resolves.toMatchObject({
        id: 'bat_1',
      });
      expect(srv.seen).toHaveLength(2);
      expect(srv.seen[1]?.bodyLines).toBe(1_000);
    } finally {
      await srv.close();
    }
  });

  it('turns a refused connection into a ConnectionError after the retries', async () => {
    const srv = await serve(() => undefined);
    const url = srv.url;
    await srv.close();
    const client = new DocBatchClient({ ...fast, baseUrl: url, retries: 2 });
    const err = await client.listModels().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'CONNECTION_ERROR', status: undefined });
  });

  it('surfaces a bad document source as its own error, not as a network error', async () => {
    const srv = await serve((_req, res) => json(res, 201, batch()));
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      async function* broken(): AsyncGenerator<DocumentInput> {
        yield { text: 'ok' };
        throw new Error('input line 2 is broken');
      }
      await expect(client.createBatch({ task: 'classification', documents: () => broken() })).rejects.toThrow(
        'input line 2 is broken',
      );
    } finally {
      await srv.close();
    }
  });
});

describe('typed errors', () => {
  it('carries code, status and line details of the contract error body', async () => {
    const srv = await serve((_req, res) =>
      json(res, 400, {
        error: {
          code: 'INVALID_DOCUMENT',
          message: '2 invalid lines',
          details: [
            { line: 2, field: 'text', message: 'must be a non-empty string' },
            { line: 5, field: 'id', message: 'must be at most 128 characters' },
          ],
        },
      }),
    );
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const err = await client
        .createBatch({ task: 'classification', documents: (async function* () {})() })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err).toMatchObject({ code: 'INVALID_DOCUMENT', status: 400, message: '2 invalid lines' });
      expect((err as InvalidRequestError).details.map((d) => d.line)).toEqual([2, 5]);
      expect(srv.seen).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });
});

describe('results', () => {
  const TOTAL = 2_500;
  const line = (i: number): string =>
    JSON.stringify({
      id: `d${i}`,
      status: 'completed',
      result: { label: 'ham', score: 0.9 },
      error: null,
      metadata: null,
    });

  it('follows X-Next-Cursor and resumes mid-page after cut connections without duplicates or gaps', async () => {
    let cuts = 0;
    const srv = await serve((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const after = Number(q.get('after') ?? '0');
      const limit = Number(q.get('limit'));
      const end = Math.min(TOTAL, after + limit);
      const body = Array.from({ length: end - after }, (_, k) => line(after + k + 1) + '\n').join('');
      const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
      if (end < TOTAL) headers['x-next-cursor'] = String(end);
      res.writeHead(200, headers);
      // The first three responses are cut in the middle of a line.
      if (cuts < 3) {
        cuts++;
        res.write(body.slice(0, Math.floor(body.length * (0.3 + cuts * 0.15))), () => res.destroy());
        return;
      }
      res.end(body);
    });
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const ids: string[] = [];
      for await (const r of client.results('bat_1', { pageSize: 1_000 })) ids.push(r.id);
      expect(ids).toEqual(Array.from({ length: TOTAL }, (_, i) => `d${i + 1}`));
      expect(cuts).toBe(3);
      expect(srv.seen.map((s) => new URL(s.url, 'http://x').searchParams.get('after'))).toEqual([
        null,
        null,
        null,
        null,
        '1000',
        '2000',
      ]);
      expect(srv.seen[0]?.headers.accept).toBe('application/x-ndjson');
    } finally {
      await srv.close();
    }
  });

  it('resumes after a response that ends cleanly in the middle of a line, ids with escapes included', async () => {
    // Every third id needs escapes (quotes, a backslash, a control character) in JSON.
    const id = (i: number): string => (i % 3 === 0 ? `d"${i}"\\\u0001` : `d${i}`);
    const lineOf = (i: number): string =>
      JSON.stringify({ id: id(i), status: 'completed', result: { n: i }, error: null, metadata: null });
    const total = 30;
    // The first two responses end normally but 30 characters into line 5, then line 8 (a proxy that
    // cut the body and closed it cleanly): that fragment starts like a line but is not one.
    const cutAt = [5, 8];
    let cuts = 0;
    const srv = await serve((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const after = Number(q.get('after') ?? '0');
      const end = Math.min(total, after + Number(q.get('limit')));
      const lines = Array.from({ length: end - after }, (_, k) => lineOf(after + k + 1) + '\n');
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        ...(end < total ? { 'x-next-cursor': String(end) } : {}),
      });
      const cut = cutAt[cuts];
      if (cut !== undefined) {
        cuts++;
        res.end(lines.slice(0, cut - 1).join('') + lines[cut - 1]?.slice(0, 30));
        return;
      }
      res.end(lines.join(''));
    });
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const lines: string[] = [];
      for await (const l of client.resultLines('bat_1', { pageSize: 20 })) lines.push(l);
      expect(lines).toEqual(Array.from({ length: total }, (_, i) => lineOf(i + 1)));
      expect(cuts).toBe(2);
      expect(srv.seen).toHaveLength(4);
    } finally {
      await srv.close();
    }
  });
});

describe('waitForBatch', () => {
  it('polls until the batch ends, reporting progress', async () => {
    const srv = await serve((_req, res, _b, n) =>
      json(res, 200, n < 3 ? batch('running', n - 1) : batch('completed', 2)),
    );
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const seen: number[] = [];
      const b = await client.waitForBatch('bat_1', {
        minIntervalMs: 10,
        onProgress: (x) => seen.push(x.counts.completed),
      });
      expect(b.status).toBe('completed');
      expect(seen).toEqual([0, 1, 2]);
    } finally {
      await srv.close();
    }
  });

  it('stops on abort and on its own timeout', async () => {
    const srv = await serve((_req, res) => json(res, 200, batch('running')));
    try {
      const client = new DocBatchClient({ ...fast, baseUrl: srv.url });
      const ac = new AbortController();
      const p = client.waitForBatch('bat_1', { signal: ac.signal, minIntervalMs: 20 });
      setTimeout(() => ac.abort(), 100);
      await expect(p).rejects.toMatchObject({ name: 'AbortError' });
      await expect(client.waitForBatch('bat_1', { timeoutMs: 100, minIntervalMs: 20 })).rejects.toMatchObject(
        {
          code: 'TIMEOUT',
        },
      );
    } finally {
      await srv.close();
    }
  });
});
