import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/core/config';
import { WorkerProcess } from '../../src/workers/worker-process';
import { csrfFrom, startDashboard } from '../e2e/dashboard-harness';
import type { DashboardHarness } from '../e2e/dashboard-harness';
import { waitFor } from '../support/wait-for';

/**
 * The operator views of issue 17 over HTTP, as an admin uses them, against a real API server, a
 * real in-process worker (classification only), Postgres and Redis: the throughput charts (global,
 * per task, per batch), the backlog per task, the error view, webhook redelivery from the batch
 * page, worker CPU and memory, the tenants page and bull-board's tabs.
 */

jest.setTimeout(120_000);

let h: DashboardHarness;
let worker: WorkerProcess;
let receiver: Server;
/** `webhook-id` of every request the receiver got, in order. */
const received: string[] = [];
let cookie: string;
let batchId: string;
let queuedId: string;

const DOCS = 40;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(String(req.headers['webhook-id'] ?? ''));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const allow = { WEBHOOK_ALLOWLIST: '127.0.0.1/32' };
  h = await startDashboard({ tenants: ['acme', 'globex'], env: { CHUNK_SIZE: '16', ...allow } });
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      ...allow,
      TF_BACKEND: 'wasm',
      CHUNK_SIZE: '16',
      WORKER_TASKS: 'classification',
      WORKER_CONCURRENCY: '1',
      TENSOR_BATCH_MAX_SIZE: '8',
    }),
    pino({ level: 'silent' }),
    { heartbeatMs: 300 },
  );
  await worker.start();
  cookie = (await h.login()).cookie;

  const documents = Array.from({ length: DOCS }, (_, i) => ({
    id: `d${i + 1}`,
    text: i === 6 ? '... ??? ...' : `meeting moved to monday, report number ${i} attached`,
  }));
  batchId = (
    await h.submit('acme', {
      task: 'classification',
      webhook_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      documents,
    })
  ).id;
  // No worker pulls summarization: this batch stays in the backlog.
  queuedId = (
    await h.submit('globex', {
      task: 'summarization',
      documents: [
        { id: 's1', text: 'One sentence. Another one.' },
        { id: 's2', text: 'A third sentence. And a fourth.' },
        { id: 's3', text: 'Five. Six.' },
      ],
    })
  ).id;
  await waitFor(
    async () =>
      (await h.db.pool.query('SELECT status FROM batches WHERE id = $1', [batchId])).rows[0].status ===
      'completed',
    'the classification batch to complete',
    90_000,
    100,
  );
  await waitFor(() => received.length > 0, 'the batch.completed webhook', 30_000);
});

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  await new Promise((r) => receiver?.close(r));
});

const asAdmin = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${h.url}${path}`, { redirect: 'manual', headers: { cookie, accept: 'text/html', ...headers } });

const page = async (path: string): Promise<string> => {
  const res = await asAdmin(path);
  expect([path, res.status]).toEqual([path, 200]);
  return res.text();
};

/** The `<figure data-chart=id>` of a page. */
function figure(html: string, id: string): string {
  const start = html.indexOf(`data-chart="${id}"`);
  expect(start).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf('</figure>', start));
}

/** Sum of a series' documents in a chart's data table. */
function seriesSum(fig: string, series: string): number {
  let sum = 0;
  for (const m of fig.matchAll(new RegExp(`<td data-series="${series}">([\\d,]+)</td>`, 'g'))) {
    sum += Number(m[1]!.replace(/,/g, ''));
  }
  return sum;
}

/** The number of points of a series' polyline. */
function pointCount(fig: string, series: string): number {
  const m = new RegExp(`data-series="${series}"\\s+points="([^"]*)"`).exec(fig);
  expect(m).not.toBeNull();
  return m![1]!.trim().split(/\s+/).length;
}

describe('home page', () => {
  it('charts documents per second over time for all tasks and per task, with labelled axes', async () => {
    // The worker adds its counts at each heartbeat.
    const html = await waitFor(
      async () => {
        const p = await page('/admin');
        return seriesSum(figure(p, 'throughput'), 'all') === DOCS ? p : '';
      },
      'the throughput history to hold the batch',
      20_000,
      200,
    );
    const fig = figure(html, 'throughput');
    expect(seriesSum(fig, 'classification')).toBe(DOCS);
    expect(seriesSum(fig, 'summarization')).toBe(0);
    expect(fig).toContain('time (UTC)');
    expect(fig).toContain('documents/s');
    // One point per minute over the last hour, for every series.
    for (const s of ['all', 'classification', 'summarization', 'translation']) {
      expect(pointCount(fig, s)).toBe(60);
    }
    // The other ranges: 5-minute and 2-hour bins, same documents.
    const day = figure(await page('/admin?range=24h'), 'throughput');
    expect(day).toContain('data-bin-seconds="900"');
    expect(seriesSum(day, 'all')).toBe(DOCS);
    const week = figure(await page('/admin?range=7d'), 'throughput');
    expect(week).toContain('data-bin-seconds="7200"');
    expect(pointCount(week, 'all')).toBe(84);
    expect(seriesSum(week, 'classification')).toBe(DOCS);

    const res = await asAdmin('/admin?range=2y');
    expect(res.status).toBe(400);

    const api = await asAdmin('/admin/api/throughput?range=6h', { accept: 'application/json' });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { bin_seconds: number; bins: Array<{ documents: number }> };
    expect(body.bin_seconds).toBe(300);
    expect(body.bins).toHaveLength(72);
    expect(body.bins.reduce((a, b) => a + b.documents, 0)).toBe(DOCS);
  });

  it('shows the backlog per task', async () => {
    const html = await page('/admin');
    const row = (task: string) => {
      const m = new RegExp(`<tr data-task="${task}">([\\s\\S]*?)</tr>`).exec(html);
      expect(m).not.toBeNull();
      return m![1]!;
    };
    expect(row('summarization')).toMatch(/data-field="queued">3</);
    expect(row('summarization')).toMatch(/data-field="batches">1</);
    expect(row('summarization')).toContain('waiting');
    expect(row('classification')).toMatch(/data-field="queued">0</);
    const api = await asAdmin('/admin/api/backlog', { accept: 'application/json' });
    const body = (await api.json()) as { data: Array<{ task: string; queued: number; batches: number }> };
    expect(body.data.find((r) => r.task === 'summarization')).toMatchObject({ queued: 3, batches: 1 });
  });

  it('shows each worker with its CPU and resident memory', async () => {
    const api = await asAdmin('/admin/api/workers', { accept: 'application/json' });
    const body = (await api.json()) as {
      workers: Array<{ cpu_percent: number | null; rss_bytes: number | null; cpu_cores: number | null }>;
    };
    expect(body.workers).toHaveLength(1);
    const w = body.workers[0]!;
    expect(w.cpu_percent).toEqual(expect.any(Number));
    expect(w.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(w.cpu_cores).toBeGreaterThan(0);
    // A Node process with TensorFlow.js loaded is tens of MiB at least.
    expect(w.rss_bytes).toBeGreaterThan(30 * 1024 * 1024);
    const html = await page('/admin');
    expect(html).toMatch(/data-field="cpu">\d+\.\d %/);
    expect(html).toMatch(/data-field="rss">\d+\.\d MiB|data-field="rss">\d+\.\d\d GiB/);
  });
});

describe('batch page', () => {
  it("charts the batch's documents per second since it started, with its failures", async () => {
    const fig = figure(await page(`/admin/batches/${batchId}`), 'batch');
    expect(seriesSum(fig, 'finished')).toBe(DOCS);
    expect(seriesSum(fig, 'failed')).toBe(1);
    expect(fig).toContain('time (UTC)');
    // A batch of seconds: 1-second bins (at most 120 of them).
    expect(fig).toContain('data-bin-seconds="1"');
    // Not started: no chart.
    expect(await page(`/admin/batches/${queuedId}`)).toContain('Not started yet.');
    // The JSON twin, on request only (the page's 2-second polling does not ask for it).
    const json = async (id: string, q: string) =>
      (await (await asAdmin(`/admin/api/batches/${id}${q}`, { accept: 'application/json' })).json()) as {
        throughput?: { bin_seconds: number; documents: number[]; failed: number[] } | null;
      };
    const t = (await json(batchId, '?throughput=1')).throughput;
    expect(t?.bin_seconds).toBe(1);
    expect(t?.documents.reduce((a, b) => a + b, 0)).toBe(DOCS);
    expect(t?.failed.reduce((a, b) => a + b, 0)).toBe(1);
    expect((await json(queuedId, '?throughput=1')).throughput).toBeNull();
    expect(await json(batchId, '')).not.toHaveProperty('throughput');
  });

  it('redelivers a webhook: a new attempt with the same webhook-id reaches the receiver', async () => {
    const html = await page(`/admin/batches/${batchId}`);
    const m = /<tr data-delivery-id="([^"]+)">/.exec(html);
    expect(m).not.toBeNull();
    const deliveryId = m![1]!;
    expect(html).toContain(`/admin/batches/${batchId}/webhook_deliveries/${deliveryId}/redeliver`);
    const before = received.filter((id) => id === deliveryId).length;
    expect(before).toBe(1);
    const url = `${h.url}/admin/batches/${batchId}/webhook_deliveries/${deliveryId}/redeliver`;
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie,
          origin: h.url,
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        body: new URLSearchParams(body).toString(),
      });

    // Without the CSRF token, or from another origin: refused, nothing sent.
    expect((await post({})).status).toBe(403);
    expect((await post({ _csrf: csrfFrom(html) }, { origin: 'http://evil.example' })).status).toBe(403);
    // An unknown delivery of this batch.
    const unknown = await fetch(url.replace(deliveryId, 'whd_nope'), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie,
        origin: h.url,
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: csrfFrom(html) }).toString(),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((id) => id === deliveryId)).toHaveLength(1);

    const res = await post({ _csrf: csrfFrom(html) });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/batches/${batchId}?notice=redelivered`);
    await waitFor(
      () => received.filter((id) => id === deliveryId).length === 2,
      'the redelivered webhook',
      30_000,
    );
    const after = await waitFor(
      async () => {
        const r = await asAdmin(`/admin/api/batches/${batchId}`, { accept: 'application/json' });
        const b = (await r.json()) as {
          webhook_deliveries: Array<{ id: string; status: string; attempts: number }>;
        };
        const d = b.webhook_deliveries.find((x) => x.id === deliveryId);
        return d?.attempts === 2 && d.status === 'succeeded' ? d : null;
      },
      'the second attempt to be recorded',
      15_000,
    );
    expect(after).toMatchObject({ attempts: 2, status: 'succeeded' });
    expect(await page(`/admin/batches/${batchId}?notice=redelivered`)).toContain('Webhook redelivery queued');
  });
});

describe('errors page', () => {
  it('lists failed documents across batches with their codes, linking to the batch', async () => {
    const html = await page('/admin/errors');
    expect(html).toMatch(
      /<tr data-code="EMPTY_DOCUMENT">[\s\S]*?<td>1<\/td>\s*<td>1<\/td>[\s\S]*?\/admin\/batches\//,
    );
    expect(html).toContain(`<tr data-batch-id="${batchId}">`);
    expect(html).toContain('<code>d7</code>');
    expect(html).toContain(`href="/admin/batches/${batchId}"`);
    // Filtered by code.
    const filtered = await page('/admin/errors?code=EMPTY_DOCUMENT');
    expect(filtered).toContain('<code>d7</code>');
    const other = await page('/admin/errors?code=PROCESSING_FAILED');
    expect(other).not.toContain('<code>d7</code>');
    const api = await asAdmin('/admin/api/errors', { accept: 'application/json' });
    const body = (await api.json()) as {
      codes: Array<{ code: string; documents: number; latest_batch: string }>;
    };
    expect(body.codes).toEqual([
      expect.objectContaining({ code: 'EMPTY_DOCUMENT', documents: 1, latest_batch: batchId }),
    ]);
  });
});

describe('tenants page', () => {
  it('lists tenants with their keys, usage and stored documents', async () => {
    const html = await page('/admin/tenants');
    const row = (tenant: string) => {
      const m = new RegExp(`<tr data-tenant-id="${h.tenants[tenant]!.id}">([\\s\\S]*?)</tr>`).exec(html);
      expect(m).not.toBeNull();
      return m![1]!;
    };
    expect(row('acme')).toContain('>acme</a>');
    expect(row('acme')).toMatch(/data-field="keys">\s*1\s+active/);
    // Usage over the last 30 days (usage_daily): what was submitted and processed.
    expect(row('acme')).toMatch(/data-field="usage-batches">1</);
    expect(row('acme')).toMatch(new RegExp(`data-field="usage-submitted">${DOCS}<`));
    expect(row('acme')).toMatch(new RegExp(`data-field="usage-completed">${DOCS - 1}<`));
    expect(row('acme')).toMatch(/data-field="usage-failed">1</);
    const tokens = /data-field="usage-tokens">\s*([\d,]+)/.exec(row('acme'));
    expect(Number(tokens?.[1]?.replace(/,/g, ''))).toBeGreaterThan(DOCS);
    expect(row('acme')).toMatch(/data-task="classification">\s*classification: [\d,]+/);
    // Stored: what the batches still hold.
    expect(row('acme')).toMatch(new RegExp(`data-field="documents">${DOCS}<`));
    expect(row('globex')).toMatch(/data-field="usage-submitted">3</);
    expect(row('globex')).toMatch(/data-field="usage-completed">0</);
    expect(row('globex')).toMatch(/data-field="documents">3</);
    // The usage numbers are those of the admin usage API.
    const api = await asAdmin(`/admin/api/usage?group_by=&tenant=acme`, { accept: 'application/json' });
    const usage = (await api.json()) as { totals: { input_tokens: number; documents_completed: number } };
    expect(usage.totals.documents_completed).toBe(DOCS - 1);
    expect(Number(tokens?.[1]?.replace(/,/g, ''))).toBe(usage.totals.input_tokens);
    expect(await page('/admin/tenants?days=7')).toMatch(/Usage, 7 d/);
    expect((await asAdmin('/admin/tenants?days=5')).status).toBe(400);
  });
});

describe('bull-board', () => {
  it('has no tab for the job states a queue never keeps', async () => {
    const res = await asAdmin('/admin/queues/api/queues', { accept: 'application/json' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: Array<{ name: string; statuses: string[] }> };
    const statuses = (name: string) => body.queues.find((q) => q.name === name)?.statuses;
    expect(statuses('chunks-classification')).not.toContain('completed');
    expect(statuses('chunks-classification')).toContain('failed');
    expect(statuses('webhooks')).not.toContain('completed');
    expect(statuses('webhooks')).not.toContain('failed');
    expect(statuses('webhooks')).toContain('active');
  });
});
