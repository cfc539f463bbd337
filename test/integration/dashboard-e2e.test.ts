import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { loadConfig } from '../../src/core/config';
import { WorkerProcess } from '../../src/workers/worker-process';
import { SCREENSHOT_DIR, launchBrowser } from '../e2e/browser';
import { ADMIN_TOKEN, startDashboard } from '../e2e/dashboard-harness';
import type { DashboardHarness } from '../e2e/dashboard-harness';
import { waitFor } from '../support/wait-for';

/**
 * The dashboard in headless Chromium (playwright-core + Debian's chromium), against a real API
 * server and a real in-process worker: log in, watch a running batch's progress bar advance
 * without a page reload, open the batch, cancel it, see it `cancelled`, open bull-board. The
 * screenshots land in test-output/dashboard/.
 */

jest.setTimeout(180_000);

/** The slice of the DOM the page functions below use (the test compiles without the DOM lib). */
interface Doc {
  querySelector(selector: string): { textContent: string | null } | null;
  body: { innerText: string };
}

let h: DashboardHarness;
let worker: WorkerProcess | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let page: Page;
/** A webhook receiver on loopback (allow-listed for this test). */
let receiver: Server;
let received = 0;

/** `n` classification documents, long enough to keep the worker busy for a while. */
function documents(n: number): Array<{ id: string; text: string }> {
  const words = [
    'invoice',
    'meeting',
    'prize',
    'winner',
    'schedule',
    'report',
    'free',
    'offer',
    'team',
    'update',
  ];
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${i + 1}`,
    text: Array.from({ length: 60 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '),
  }));
}

const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const allow = { WEBHOOK_ALLOWLIST: '127.0.0.1/32' };
  h = await startDashboard({ tenants: ['acme', 'globex'], env: { CHUNK_SIZE: '64', ...allow } });
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      ...allow,
      TF_BACKEND: 'wasm',
      CHUNK_SIZE: '64',
      WORKER_CONCURRENCY: '1',
      TENSOR_BATCH_MAX_SIZE: '16',
    }),
    pino({ level: 'silent' }),
    { heartbeatMs: 500 },
  );
  await worker.start();
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await h?.stop();
  await new Promise((r) => receiver.close(r));
});

it('refuses unauthenticated requests to /admin and /admin/queues', async () => {
  for (const p of ['/admin', '/admin/queues', '/admin/queues/api/queues', '/admin/api/batches']) {
    const res = await fetch(`${h.url}${p}`, { redirect: 'manual' });
    expect([p, res.status]).toEqual([p, 401]);
  }
});

it('logs in, follows a running batch live, cancels it and shows the queues', async () => {
  const small = await h.submit('globex', {
    task: 'summarization',
    metadata: { project: 'newsletter' },
    webhook_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/docbatch`,
    documents: [
      { id: 's1', text: 'The meeting moved to Monday. Bring the report. Lunch is provided.' },
      { id: 's2', text: 'Prices rise in spring. Sales fall in summer. Nobody knows why.' },
    ],
  });
  await waitFor(
    async () =>
      (await h.db.pool.query('SELECT status FROM batches WHERE id = $1', [small.id])).rows[0].status ===
      'completed',
    'the small batch to complete',
    60_000,
  );
  const big = await h.submit('acme', {
    task: 'classification',
    metadata: { project: 'inbox-triage', owner: 'ops' },
    documents: documents(30_000),
  });

  // Login: the dashboard answers 401 with the login form.
  const first = await page.goto(`${h.url}/admin`);
  expect(first?.status()).toBe(401);
  await shot('01-login');
  await page.fill('#token', ADMIN_TOKEN);
  await Promise.all([page.waitForURL(`${h.url}/admin`), page.click('button[type=submit]')]);
  const row = page.locator(`tr[data-batch-id="${big.id}"]`);
  await row.waitFor();

  // The bar advances by polling, without reloading the page.
  await page.evaluate(() => ((globalThis as { __sameDocument?: boolean }).__sameDocument = true));
  const completed = async () => Number(await row.locator('[data-bar]').getAttribute('data-completed'));
  const before = await completed();
  await waitFor(
    async () => (await completed()) > before && (await completed()) > 0,
    'the progress bar to advance',
    60_000,
    200,
  );
  const after = await completed();
  expect(await page.evaluate(() => (globalThis as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  expect(await row.locator('[data-field="status"]').textContent()).toBe('running');
  expect(after).toBeLessThan(30_000);
  // The worker panel shows the live worker with its backend.
  await page.locator('#workers tbody').getByText('wasm').waitFor({ timeout: 30_000 });
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: Doc }).document.querySelector('[data-field="worker-count"]')
        ?.textContent === '1 connected',
  );
  await shot('02-batches');
  // A batch submitted after the page loaded is announced, not silently inserted.
  await h.submit('globex', { task: 'summarization', documents: [{ id: 'late', text: 'Late. Very late.' }] });
  await page.locator('[data-field="new-batches"]').waitFor({ state: 'visible', timeout: 15_000 });

  // Open the batch, cancel it (confirm dialog), see it cancelled.
  await Promise.all([page.waitForURL(`${h.url}/admin/batches/${big.id}`), row.locator('a').first().click()]);
  await page.locator('form[data-action="cancel"] button').waitFor();
  await shot('03-batch-running');
  page.once('dialog', (d) => void d.accept());
  await Promise.all([
    page.waitForURL(`${h.url}/admin/batches/${big.id}?notice=cancelled`),
    page.click('form[data-action="cancel"] button'),
  ]);
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: Doc }).document.querySelector('h1 [data-field="status"]')
        ?.textContent === 'cancelled',
    undefined,
    { timeout: 60_000 },
  );
  expect(await page.locator('form[data-action="cancel"]').isHidden()).toBe(true);
  const cancelled = Number(
    await page
      .locator('td[data-count="cancelled"]')
      .textContent()
      .then((t) => t?.replace(/,/g, '')),
  );
  expect(cancelled).toBeGreaterThan(0);
  await shot('04-batch-cancelled');
  // The API sees the same state (the dashboard called the same core operation).
  const api = await fetch(`${h.url}/v1/batches/${big.id}`, {
    headers: { authorization: `Bearer ${h.tenants.acme?.key}` },
  });
  expect(((await api.json()) as { status: string }).status).toBe('cancelled');

  // bull-board lists the queues.
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(`${h.url}/admin/queues`);
  for (const q of ['chunks-classification', 'chunks-summarization', 'chunks-translation', 'webhooks']) {
    await page.getByText(q, { exact: true }).first().waitFor({ timeout: 20_000 });
  }
  await page.waitForFunction(
    () => !(globalThis as unknown as { document: Doc }).document.body.innerText.includes('Loading'),
    undefined,
    {
      timeout: 20_000,
    },
  );
  await shot('05-queues');
  // Nothing was refused by the Content-Security-Policy or failed to load.
  expect(consoleErrors).toEqual([]);

  // The finished batch shows its webhook delivery (sent by the worker to the local receiver).
  await waitFor(async () => received > 0, 'the webhook to arrive', 30_000);
  await page.goto(`${h.url}/admin/batches/${small.id}`);
  await page.locator('[data-table="deliveries"]').getByText('succeeded').waitFor({ timeout: 20_000 });
  expect(await page.locator('[data-table="deliveries"]').textContent()).toContain('batch.completed');
  await shot('06-batch-webhook');
});

it('shows throughput charts, the backlog, errors, tenants and worker resources, and redelivers a webhook', async () => {
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  const docs = documents(60);
  docs[9] = { id: 'doc-10', text: '... ??? ...' }; // no tokens: fails with EMPTY_DOCUMENT
  const b = await h.submit('acme', {
    task: 'classification',
    metadata: { project: 'charts' },
    webhook_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/docbatch`,
    documents: docs,
  });
  await waitFor(
    async () =>
      (await h.db.pool.query('SELECT status FROM batches WHERE id = $1', [b.id])).rows[0].status ===
      'completed',
    'the chart batch to complete',
    90_000,
  );
  const receivedBefore = received;

  // Home page: the throughput chart (axes, a line per task) and the backlog per task.
  await page.goto(`${h.url}/admin`);
  const chart = page.locator('[data-chart="throughput"]');
  await chart.waitFor();
  expect(await chart.locator('polyline[data-series="classification"]').count()).toBe(1);
  expect(await chart.locator('svg[role="img"]').textContent()).toContain('documents/s');
  expect(await page.locator('[data-table="backlog"] tr[data-task="translation"]').count()).toBe(1);
  // The worker panel shows CPU and memory (filled in by polling too).
  await page.waitForFunction(
    () =>
      /MiB|GiB/.test(
        (globalThis as unknown as { document: Doc }).document.querySelector('#workers [data-field="rss"]')
          ?.textContent ?? '',
      ),
    undefined,
    { timeout: 20_000 },
  );
  await shot('07-overview');

  // The batch page: its own chart, then redeliver its webhook from the log.
  await page.goto(`${h.url}/admin/batches/${b.id}`);
  await page.locator('[data-chart="batch"]').waitFor();
  await page.locator('[data-table="deliveries"]').getByText('succeeded').waitFor({ timeout: 30_000 });
  // Polling leaves the server-rendered rows alone while their data is unchanged (a click on
  // Redeliver is never lost to a re-render).
  await page.reload();
  const firstRow = page.locator('[data-table="deliveries"] tbody tr').first();
  await firstRow.evaluate((e) =>
    (e as unknown as { setAttribute(k: string, v: string): void }).setAttribute('data-marker', '1'),
  );
  const updated = async () => Number((await page.locator('body').getAttribute('data-updated')) ?? 0);
  const polledAt = await waitFor(updated, 'a first poll', 15_000, 100);
  await waitFor(async () => (await updated()) > polledAt, 'a second poll', 15_000, 100);
  expect(await page.locator('[data-table="deliveries"] tbody tr[data-marker="1"]').count()).toBe(1);
  await page.locator('#batch-throughput').scrollIntoViewIfNeeded();
  await shot('08-batch-chart');
  page.once('dialog', (d) => void d.accept());
  await Promise.all([
    page.waitForURL(`${h.url}/admin/batches/${b.id}?notice=redelivered`),
    page.click('form[data-action="redeliver"] button'),
  ]);
  await waitFor(() => received > receivedBefore, 'the redelivered webhook', 30_000);
  await page
    .locator('[data-table="deliveries"] td')
    .getByText(/^\s*2\s+\(last HTTP 200\)/)
    .first()
    .waitFor({ timeout: 20_000 });

  // Errors across batches, linking to the batch.
  await page.goto(`${h.url}/admin/errors`);
  const code = page.locator('[data-table="error-codes"] tr[data-code="EMPTY_DOCUMENT"]');
  await code.waitFor();
  await shot('09-errors');
  await Promise.all([
    page.waitForURL(`${h.url}/admin/batches/${b.id}`),
    page.locator(`[data-table="failures"] tr[data-batch-id="${b.id}"] a`).first().click(),
  ]);

  // Tenants.
  await page.goto(`${h.url}/admin/tenants`);
  await page.locator(`[data-table="tenants"] tr[data-tenant-id="${h.tenants.acme?.id}"]`).waitFor();
  await shot('10-tenants');
  expect(consoleErrors).toEqual([]);
});
