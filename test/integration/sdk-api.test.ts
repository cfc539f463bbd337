import { createTenantWithKey } from '../../src/core/tenants';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AuthenticationError,
  ConflictError,
  DocBatchClient,
  InvalidRequestError,
  NotFoundError,
} from '@docbatch/sdk';
import type { Batch, SummarizationResult, Task } from '@docbatch/sdk';
import { processDocuments, startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';

/**
 * The SDK against the real API: idempotent create across a lost response, typed errors with the
 * contract's codes, pagination, single documents, filtered results, cancel and retry.
 */

jest.setTimeout(120_000);

let h: CliHarness;
let client: DocBatchClient;
let apiKey: string;

beforeAll(async () => {
  h = await startCliHarness();
  const t = await createTenantWithKey(h.db, 'sdk');
  apiKey = t.api_key;
  client = new DocBatchClient({
    baseUrl: h.url,
    apiKey,
    minRetryDelayMs: 20,
    maxRetryDelayMs: 200,
  });
});
afterAll(async () => {
  await h?.stop();
});

async function batchCount(): Promise<number> {
  return (await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM batches')).rows[0]?.n ?? -1;
}

/** Forwards requests to the API; the first POST /v1/batches reaches the server but its response is lost. */
async function responseLosingProxy(
  target: string,
): Promise<{ url: string; lost: () => number; close(): Promise<void> }> {
  let lost = 0;
  const server = http.createServer((req, res) => {
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      if (req.method === 'POST' && req.url?.startsWith('/v1/batches?') && lost === 0) {
        lost++;
        upRes.resume();
        upRes.on('end', () => res.socket?.destroy());
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lost: () => lost,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('idempotent create', () => {
  it('a create whose response was lost is retried with the same Idempotency-Key: one batch', async () => {
    const proxy = await responseLosingProxy(h.url);
    try {
      const viaProxy = new DocBatchClient({
        baseUrl: proxy.url,
        apiKey,
        minRetryDelayMs: 20,
      });
      const before = await batchCount();
      const docs = function* () {
        for (let i = 1; i <= 500; i++) yield { id: `i${i}`, text: `Idempotent document ${i}.` };
      };
      const batch = await viaProxy.createBatch({ task: 'summarization', documents: () => docs() });
      expect(proxy.lost()).toBe(1);
      expect(batch.counts.total).toBe(500);
      expect(await batchCount()).toBe(before + 1);
      const docsStored = await h.db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM documents WHERE batch_id = $1',
        [batch.id],
      );
      expect(docsStored.rows[0]?.n).toBe(500);
    } finally {
      await proxy.close();
    }
  });

  it('the same key with another body is IDEMPOTENCY_KEY_REUSED; the same body returns the original', async () => {
    const key = `k-${Date.now()}`;
    const first = await client.createBatch(
      { task: 'summarization', documents: [{ text: 'One.' }] },
      { idempotencyKey: key },
    );
    const again = await client.createBatch(
      { task: 'summarization', documents: [{ text: 'One.' }] },
      { idempotencyKey: key },
    );
    expect(again.id).toBe(first.id);
    const err = await client
      .createBatch({ task: 'summarization', documents: [{ text: 'Two.' }] }, { idempotencyKey: key })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 409 });
  });
});

describe('typed errors from the server', () => {
  it('UNAUTHORIZED, NOT_FOUND, INVALID_DOCUMENT with lines, UNKNOWN_TASK, INVALID_REQUEST', async () => {
    const anon = new DocBatchClient({ baseUrl: h.url, apiKey: 'dbk_nope' });
    await expect(anon.listModels()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(anon.listModels()).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });

    await expect(client.getBatch('bat_missing')).rejects.toBeInstanceOf(NotFoundError);

    const bad = await client
      .createBatch({
        task: 'summarization',
        documents: (async function* () {
          yield { text: 'ok' };
          yield { text: '' };
          yield { text: 'ok too' };
          yield { id: 'x'.repeat(200), text: 'long id' };
        })(),
      })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidRequestError);
    expect(bad).toMatchObject({ code: 'INVALID_DOCUMENT', status: 400 });
    expect((bad as InvalidRequestError).details.map((d) => d.line)).toEqual([2, 4]);

    await expect(
      client.createBatch({ task: 'poetry' as Task, documents: [{ text: 'x' }] }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_TASK', status: 422 });
    await expect(
      client.createBatch({ task: 'summarization', priority: 99, documents: [{ text: 'x' }] }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST', status: 400 });
  });
});

describe('reading batches', () => {
  let batch: Batch;
  beforeAll(async () => {
    batch = await client.createBatch({
      task: 'summarization',
      metadata: { run: 'read' },
      documents: [
        { id: 'mail/001', text: 'Slash in the id. Second sentence.', metadata: { n: 1 } },
        { id: 'mail/002', text: 'Fails on purpose.' },
        { id: 'mail/003', text: 'Third one here. More.' },
      ],
    });
    await processDocuments(h.db, batch.id, { failIds: new Set(['mail/002']) });
  });

  it('waitForBatch, getDocument (ids with a slash) and filtered results', async () => {
    const done = await client.waitForBatch(batch.id, { minIntervalMs: 20 });
    expect(done).toMatchObject({ status: 'completed', counts: { total: 3, completed: 2, failed: 1 } });
    const doc = await client.getDocument<SummarizationResult>(batch.id, 'mail/001');
    expect(doc).toMatchObject({
      id: 'mail/001',
      status: 'completed',
      text: 'Slash in the id. Second sentence.',
      metadata: { n: 1 },
      result: { summary: 'Slash in the id.' },
    });
    await expect(client.getDocument(batch.id, 'mail/404')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const failed = [];
    for await (const r of client.results(batch.id, { status: 'failed' })) failed.push(r);
    expect(failed).toEqual([
      {
        id: 'mail/002',
        status: 'failed',
        result: null,
        error: { code: 'TEXT_REJECTED', message: expect.any(String) },
        metadata: null,
      },
    ]);
    const all = [];
    for await (const r of client.results(batch.id, { pageSize: 1 })) all.push(r.id);
    expect(all).toEqual(['mail/001', 'mail/002', 'mail/003']);
  });

  it('retryBatch requeues failed documents; cancelBatch of a finished batch is BATCH_FINISHED', async () => {
    const retried = await client.retryBatch(batch.id);
    expect(retried.counts).toMatchObject({ queued: 1, failed: 0, completed: 2 });
    await processDocuments(h.db, batch.id);
    expect(await client.waitForBatch(batch.id, { minIntervalMs: 20 })).toMatchObject({
      counts: { completed: 3 },
    });
    await expect(client.cancelBatch(batch.id)).rejects.toMatchObject({ code: 'BATCH_FINISHED', status: 409 });
    const fresh = await client.createBatch({ task: 'summarization', documents: [{ text: 'Never runs.' }] });
    expect((await client.cancelBatch(fresh.id)).status).toBe('cancelled');
    expect((await client.cancelBatch(fresh.id)).status).toBe('cancelled');
  });

  it('listBatches pages newest first; items() crosses pages', async () => {
    const ids = (
      await h.db.pool.query<{ id: string }>(
        `SELECT b.id FROM batches b JOIN tenants t ON t.id = b.tenant_id WHERE t.name = 'sdk' ORDER BY b.created_at DESC, b.id DESC`,
      )
    ).rows.map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    const pages = [];
    for await (const page of client.listBatches({ limit: 2 })) pages.push(page.data.map((b) => b.id));
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect(pages.flat()).toEqual(ids);
    expect((await client.listBatches({ limit: 3 }).toArray()).map((b) => b.id)).toEqual(ids);
    const cancelled = await client.listBatches({ status: 'cancelled' }).toArray();
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled.every((b) => b.status === 'cancelled')).toBe(true);
  });

  it('listModels returns the contract model objects', async () => {
    const models = await client.listModels();
    expect(models.find((m) => m.task === 'summarization' && m.default)).toMatchObject({
      id: expect.stringMatching(/@\d+$/),
      backend: expect.any(String),
    });
  });
});
