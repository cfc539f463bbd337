import { ALL_QUEUES } from '../../src/core/queue/catalog';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';
import { ADMIN_TOKEN, capturingLogger, csrfFrom, startDashboard } from '../e2e/dashboard-harness';
import type { DashboardHarness } from '../e2e/dashboard-harness';

/**
 * The dashboard over plain HTTP: authentication, CSRF, escaping, filters and actions. The browser
 * test (dashboard-e2e) drives the same pages in Chromium.
 */

// Per-file: `testTimeout` in a jest project entry is not applied, and set-up is slow on a busy machine.
jest.setTimeout(60_000);

const XSS = '<script>alert("x")</script>';
const XSS_ID = '<img src=x onerror=alert(1)>';

let h: DashboardHarness;
let acmeBatch: string;
let otherBatch: string;
let cookie: string;

beforeAll(async () => {
  h = await startDashboard({ tenants: ['acme', 'globex'] });
  acmeBatch = (
    await h.submit('acme', {
      task: 'classification',
      metadata: { project: XSS },
      documents: [
        { id: XSS_ID, text: 'win a free prize now' },
        { id: 'needle-42', text: 'meeting moved to monday' },
        { id: 'c', text: 'third document' },
      ],
    })
  ).id;
  otherBatch = (
    await h.submit('globex', {
      task: 'summarization',
      documents: [{ id: 'g1', text: 'One sentence. Another sentence. A third one.' }],
    })
  ).id;
  // A failure as the pipeline records it, with a hostile message.
  await h.db.pool.query(
    `UPDATE documents SET status = 'failed', error = $2::jsonb, finished_at = now() WHERE batch_id = $1 AND client_id = $3`,
    [acmeBatch, JSON.stringify({ code: 'PROCESSING_FAILED', message: `bad ${XSS}` }), XSS_ID],
  );
  cookie = (await h.login()).cookie;
});
afterAll(async () => {
  await h.stop();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${h.url}${path}`, { redirect: 'manual', headers });
const asAdmin = (path: string, headers: Record<string, string> = {}) => get(path, { cookie, ...headers });

describe('without credentials', () => {
  it.each([
    '/admin',
    '/admin/',
    `/admin/batches/BATCH`,
    '/admin/queues',
    '/admin/queues/',
    '/admin/api/batches',
  ])('refuses GET %s with 401', async (path) => {
    const res = await get(path.replace('BATCH', acmeBatch), { accept: 'text/html' });
    expect(res.status).toBe(401);
    const body = await res.text();
    // The login form (its `next` field may repeat the URL) or a JSON error, nothing of the data.
    expect(body).toMatch(/name="token"|"UNAUTHORIZED"/);
    expect(body).not.toContain('data-batch-id');
    expect(body).not.toContain('spam-classifier');
    expect(body).not.toContain('chunks-classification');
  });

  it('refuses bull-board API calls and actions with a JSON 401', async () => {
    const q = await get('/admin/queues/api/queues');
    expect(q.status).toBe(401);
    expect(await q.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    const cancel = await fetch(`${h.url}/admin/batches/${acmeBatch}/cancel`, {
      method: 'POST',
      redirect: 'manual',
    });
    expect(cancel.status).toBe(401);
    const b = await h.db.pool.query('SELECT status FROM batches WHERE id = $1', [acmeBatch]);
    expect(b.rows[0].status).toBe('queued');
  });

  it('refuses forged, truncated and wrong credentials', async () => {
    const [name, value] = cookie.split('=') as [string, string];
    const forged = value.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const variants: Array<Record<string, string>> = [
      { cookie: `${name}=${forged}` },
      { cookie: `${name}=${value.split('.').slice(0, 3).join('.')}` },
      { cookie: `${name}=v1.9999999999.abc.def` },
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}x`).toString('base64')}` },
    ];
    for (const headers of variants) {
      expect((await get('/admin/api/batches', headers)).status).toBe(401);
    }
  });

  it('serves the login form as the 401 page of a browser navigation', async () => {
    const res = await get('/admin?status=running', { accept: 'text/html' });
    expect(res.status).toBe(401);
    const page = await res.text();
    expect(page).toContain('name="token"');
    expect(page).toContain('name="next" value="/admin?status=running"');
  });
});

describe('login', () => {
  const post = (body: Record<string, string>, headers: Record<string, string> = { origin: '' }) =>
    fetch(`${h.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url, ...headers },
      body: new URLSearchParams(body).toString(),
    });

  it('sets an HttpOnly, SameSite=Strict session cookie scoped to /admin and redirects to a local next', async () => {
    const res = await post({ token: ADMIN_TOKEN, next: '/admin/queues' }, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/queues');
    const c = res.headers.get('set-cookie') ?? '';
    expect(c).toMatch(/^docbatch_admin=v1\.\d+\.[\w-]+\.[\w-]+;/);
    expect(c).toContain('Path=/admin');
    expect(c).toContain('HttpOnly');
    expect(c).toContain('SameSite=Strict');
    expect(c).toMatch(/Max-Age=28800/);
  });

  it('never redirects off the dashboard', async () => {
    for (const next of ['https://evil.example/', '//evil.example/admin', '/admin//evil', '/v1/batches']) {
      const res = await post({ token: ADMIN_TOKEN, next }, {});
      expect(res.headers.get('location')).toBe('/admin');
    }
  });

  it('refuses a wrong token and a cross-origin login', async () => {
    const wrong = await post({ token: `${ADMIN_TOKEN}-nope` }, {});
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toContain('Wrong admin token');
    const cross = await post({ token: ADMIN_TOKEN }, { origin: 'http://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
  });
});

describe('with a session', () => {
  it('lists batches across tenants, newest first, with CSP and no inline script', async () => {
    const res = await asAdmin('/admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const page = await res.text();
    expect(page.indexOf(otherBatch)).toBeGreaterThan(-1);
    expect(page.indexOf(otherBatch)).toBeLessThan(page.indexOf(acmeBatch));
    expect(page).not.toMatch(/<script>(?!<\/script>)/);
    expect(page).not.toContain('googleapis');
  });

  it('escapes batch metadata, document ids and error messages', async () => {
    const list = await (await asAdmin('/admin')).text();
    expect(list).not.toContain(XSS);
    expect(list).toContain('project=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const detail = await (await asAdmin(`/admin/batches/${acmeBatch}`)).text();
    expect(detail).not.toContain(XSS);
    expect(detail).not.toContain(XSS_ID);
    expect(detail).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(detail).toContain('bad &lt;script&gt;');
    const search = await (await asAdmin(`/admin?q=${encodeURIComponent(XSS_ID)}`)).text();
    expect(search).not.toContain(XSS_ID);
    expect(search).toContain(acmeBatch);
  });

  it('filters by tenant, status and task, and searches by batch id or document id', async () => {
    type Page = { data: Array<{ id: string; tenant: { name: string }; matched_document?: boolean }> };
    const ids = async (query: string) =>
      ((await (await asAdmin(`/admin/api/batches?${query}`)).json()) as Page).data.map((b) => b.id);
    expect(await ids('')).toEqual([otherBatch, acmeBatch]);
    expect(await ids(`tenant=${h.tenants.globex?.id}`)).toEqual([otherBatch]);
    expect(await ids('task=classification')).toEqual([acmeBatch]);
    expect(await ids('status=queued&task=summarization')).toEqual([otherBatch]);
    expect(await ids('status=completed')).toEqual([]);
    expect(await ids(`q=${acmeBatch}`)).toEqual([acmeBatch]);
    expect(await ids('q=needle-42')).toEqual([acmeBatch]);
    expect(await ids('q=needle-42&tenant=' + h.tenants.globex?.id)).toEqual([]);
    expect(await ids('q=no-such-document')).toEqual([]);
    const hit = (await (await asAdmin('/admin/api/batches?q=needle-42')).json()) as Page;
    expect(hit.data[0]?.matched_document).toBe(true);
    const bad = await asAdmin('/admin/api/batches?status=bogus');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
  });

  it('pages with a cursor', async () => {
    type Page = { data: Array<{ id: string }>; has_more: boolean; next_cursor: string | null };
    const first = (await (await asAdmin('/admin/api/batches?limit=1')).json()) as Page;
    expect(first.data.map((b) => b.id)).toEqual([otherBatch]);
    expect(first.has_more).toBe(true);
    const second = (await (
      await asAdmin(`/admin/api/batches?limit=1&after=${encodeURIComponent(first.next_cursor ?? '')}`)
    ).json()) as Page;
    expect(second.data.map((b) => b.id)).toEqual([acmeBatch]);
    expect(second.has_more).toBe(false);
  });

  it('shows a batch with counts, failed documents and the live JSON twin', async () => {
    const page = await (await asAdmin(`/admin/batches/${acmeBatch}`)).text();
    expect(page).toContain('data-count="failed">1<');
    expect(page).toContain('PROCESSING_FAILED');
    expect(page).toContain('No webhook deliveries.');
    const live = (await (await asAdmin(`/admin/api/batches/${acmeBatch}`)).json()) as {
      batch: { counts: Record<string, number>; tenant: { name: string } };
      can_cancel: boolean;
      can_retry: boolean;
      failed_documents: Array<{ id: string; error: { code: string } }>;
    };
    expect(live.batch.counts).toMatchObject({ total: 3, queued: 2, failed: 1 });
    expect(live.batch.tenant.name).toBe('acme');
    expect(live).toMatchObject({ can_cancel: true, can_retry: true });
    expect(live.failed_documents).toEqual([
      expect.objectContaining({ id: XSS_ID, error: expect.objectContaining({ code: 'PROCESSING_FAILED' }) }),
    ]);
    expect((await asAdmin('/admin/batches/bat_nope')).status).toBe(404);
    expect((await asAdmin('/admin/api/batches/bat_nope')).status).toBe(404);
  });

  it('serves bull-board with every queue, without external fonts', async () => {
    const ui = await asAdmin('/admin/queues', { accept: 'text/html' });
    expect(ui.status).toBe(200);
    const html = await ui.text();
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).not.toContain('googleapis');
    expect(ui.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(ui.headers.get('x-powered-by')).toBeNull();
    // The batch page links a task's chunk queue directly.
    const deep = await asAdmin('/admin/queues/queue/chunks-classification', { accept: 'text/html' });
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<base href="/admin/queues/"');
    const api = await asAdmin('/admin/queues/api/queues');
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...ALL_QUEUES].sort());
    expect(body.queues.every((q) => q.readOnlyMode === false)).toBe(true);
  });
  it("protects bull-board's write API with the Origin check (it cannot carry our CSRF token)", async () => {
    const pause = (origin: string | null) =>
      fetch(`${h.url}/admin/queues/api/queues/chunks-translation/pause`, {
        method: 'PUT',
        headers: { cookie, 'content-type': 'application/json', ...(origin ? { origin } : {}) },
        body: '{}',
      });
    const paused = async () => {
      const body = (await (await asAdmin('/admin/queues/api/queues')).json()) as {
        queues: Array<{ name: string; isPaused: boolean }>;
      };
      return body.queues.find((q) => q.name === 'chunks-translation')?.isPaused;
    };
    expect((await pause('http://evil.example')).status).toBe(403);
    expect((await pause(null)).status).toBe(403);
    expect(await paused()).toBe(false);
    expect((await pause(h.url)).status).toBeLessThan(300);
    expect(await paused()).toBe(true);
    const resume = await fetch(`${h.url}/admin/queues/api/queues/chunks-translation/resume`, {
      method: 'PUT',
      headers: { cookie, 'content-type': 'application/json', origin: h.url },
      body: '{}',
    });
    expect(resume.status).toBeLessThan(300);
    expect(await paused()).toBe(false);
  });
});

describe('actions and CSRF', () => {
  const postForm = (path: string, form: Record<string, string>, headers: Record<string, string>) =>
    fetch(`${h.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
      body: new URLSearchParams(form).toString(),
    });

  it('refuses a cookie action without the session CSRF token or from another origin', async () => {
    const page = await (await asAdmin(`/admin/batches/${acmeBatch}`)).text();
    const csrf = csrfFrom(page);
    const path = `/admin/batches/${acmeBatch}/retry`;
    expect((await postForm(path, {}, { origin: h.url })).status).toBe(403);
    expect((await postForm(path, { _csrf: `${csrf}x` }, { origin: h.url })).status).toBe(403);
    expect((await postForm(path, { _csrf: csrf }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await postForm(path, { _csrf: csrf }, {})).status).toBe(403);
    // Another session's token does not fit this session.
    const other = await h.login();
    const otherPage = await (await get(`/admin/batches/${acmeBatch}`, { cookie: other.cookie })).text();
    expect(csrfFrom(otherPage)).not.toBe(csrf);
    expect((await postForm(path, { _csrf: csrfFrom(otherPage) }, { origin: h.url })).status).toBe(403);
    const b = await h.db.pool.query('SELECT failed_count FROM batches WHERE id = $1', [acmeBatch]);
    expect(b.rows[0].failed_count).toBe(1);
  });

  it('retries failed documents through the core operation', async () => {
    const csrf = csrfFrom(await (await asAdmin(`/admin/batches/${acmeBatch}`)).text());
    const res = await postForm(`/admin/batches/${acmeBatch}/retry`, { _csrf: csrf }, { origin: h.url });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/admin/batches/${acmeBatch}?notice=retried`);
    const b = await h.db.pool.query('SELECT failed_count, queued_count FROM batches WHERE id = $1', [
      acmeBatch,
    ]);
    expect(b.rows[0]).toEqual({ failed_count: 0, queued_count: 3 });
    const page = await (await asAdmin(res.headers.get('location') ?? '')).text();
    expect(page).toContain('Failed documents were requeued.');
  });

  it('cancels through the core operation; the API then reports the batch cancelled', async () => {
    const csrf = csrfFrom(await (await asAdmin(`/admin/batches/${acmeBatch}`)).text());
    const res = await postForm(`/admin/batches/${acmeBatch}/cancel`, { _csrf: csrf }, { origin: h.url });
    expect(res.status).toBe(303);
    const api = await fetch(`${h.url}/v1/batches/${acmeBatch}`, {
      headers: { authorization: `Bearer ${h.tenants.acme?.key}` },
    });
    expect(((await api.json()) as { status: string }).status).toBe('cancelled');
    // Cancelling again is idempotent; retrying a cancelled batch is refused with the API's code.
    expect(
      (await postForm(`/admin/batches/${acmeBatch}/cancel`, { _csrf: csrf }, { origin: h.url })).status,
    ).toBe(303);
    const retry = await postForm(`/admin/batches/${acmeBatch}/retry`, { _csrf: csrf }, { origin: h.url });
    expect(retry.status).toBe(409);
    expect(await retry.text()).toContain('cannot be retried');
  });

  it('accepts the admin token as a bearer token for scripts (no CSRF token needed)', async () => {
    const res = await fetch(`${h.url}/admin/batches/${otherBatch}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json' },
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { batch: { status: string } }).batch.status).toBe('cancelled');
  });

  it('logs out: the logout form needs the CSRF token and clears the cookie', async () => {
    const session = await h.login();
    const csrf = csrfFrom(await (await get('/admin', { cookie: session.cookie })).text());
    const res = await fetch(`${h.url}/admin/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session.cookie, origin: h.url },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/login');
    expect(res.headers.get('set-cookie')).toMatch(/^docbatch_admin=;.*Expires=Thu, 01 Jan 1970/);
    // The old cookie, replayed (e.g. copied before the logout), no longer works (issue 16).
    const replay = await get('/admin/api/batches', { cookie: session.cookie });
    expect(replay.status).toBe(401);
    // Another session is not affected.
    const other = await h.login();
    expect((await get('/admin/api/batches', { cookie: other.cookie })).status).toBe(200);
  });

  it('throttles wrong bearer tokens like failed logins (then even the right token waits)', async () => {
    const d = await startDashboard({ tenants: [], testEnv: h.env });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        const res = await fetch(`${d.url}/admin/api/batches`, {
          headers: { authorization: `Bearer wrong-token-${i}-xxxxxxxxxx`, accept: 'application/json' },
        });
        statuses.push(res.status);
        if (i === 10) {
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
          expect(await res.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
        }
      }
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
      const right = await fetch(`${d.url}/admin/api/batches`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json' },
      });
      expect(right.status).toBe(429);
    } finally {
      await d.stop();
    }
  });

  it('slows down token guessing', async () => {
    let last = 0;
    for (let i = 0; i < 11; i++) {
      const res = await fetch(`${h.url}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
        body: new URLSearchParams({ token: `guess-${i}-xxxxxxxxxxxx` }).toString(),
      });
      last = res.status;
      if (i === 10) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(last).toBe(429);
  });
});

describe('configuration', () => {
  it('without ADMIN_TOKEN the dashboard is disabled with a log line and 503, never open', async () => {
    const { logger, lines } = capturingLogger();
    const off = await startDashboard({ env: { ADMIN_TOKEN: '' }, tenants: [], logger, testEnv: h.env });
    try {
      for (const path of [
        '/admin',
        '/admin/queues',
        '/admin/queues/api/queues',
        '/admin/api/batches',
        '/admin/login',
      ]) {
        const res = await fetch(`${off.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(res.status).toBe(503);
        expect(JSON.stringify(await res.json())).toContain('set ADMIN_TOKEN');
      }
      const page = await fetch(`${off.url}/admin`, { headers: { accept: 'text/html' } });
      expect(await page.text()).toContain('The admin dashboard is disabled');
      expect(lines().some((l) => l.level === 40 && /admin dashboard disabled/.test(String(l.msg)))).toBe(
        true,
      );
    } finally {
      await off.stop();
    }
  });

  it('keeps showing batches while Redis is down, and says so in the worker panel and the throughput chart', async () => {
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(h.env.redisUrl).port || 6379));
    await proxy.start();
    const d = await startDashboard({
      env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
      tenants: [],
      testEnv: h.env,
    });
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    try {
      // Once the client has connected, the panel reads the (empty) heartbeat list.
      await waitFor(
        async () =>
          !(
            (await (await fetch(`${d.url}/admin/api/workers`, { headers: auth })).json()) as {
              unavailable?: boolean;
            }
          ).unavailable,
        'the worker panel to read Redis',
      );
      await proxy.stop();
      const workers = await fetch(`${d.url}/admin/api/workers`, { headers: auth });
      expect(((await workers.json()) as { unavailable?: boolean }).unavailable).toBe(true);
      const page = await fetch(`${d.url}/admin`, { headers: { ...auth, accept: 'text/html' } });
      expect(page.status).toBe(200);
      const text = await page.text();
      expect(text).toContain('Redis cannot be reached');
      expect(text).toContain(acmeBatch);
      // The throughput history lives in Redis: the chart says so, the rest of the page is there.
      expect(text).toContain('data-field="throughput-unavailable"');
      expect(text).toContain('data-table="backlog"');
      const history = await fetch(`${d.url}/admin/api/throughput`, { headers: auth });
      expect(history.status).toBe(503);
      expect(history.headers.get('retry-after')).toBe('5');
      expect(((await history.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    } finally {
      await d.stop();
      await proxy.stop();
    }
  });

  it('BULL_BOARD_READ_ONLY makes every queue read-only', async () => {
    const ro = await startDashboard({ env: { BULL_BOARD_READ_ONLY: 'true' }, tenants: [], testEnv: h.env });
    try {
      const res = await fetch(`${ro.url}/admin/queues/api/queues`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const body = (await res.json()) as { queues: Array<{ readOnlyMode: boolean }> };
      expect(body.queues.length).toBe(ALL_QUEUES.length);
      expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
      const pause = await fetch(`${ro.url}/admin/queues/api/queues/chunks-translation/pause`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(pause.status).toBeGreaterThanOrEqual(400);
    } finally {
      await ro.stop();
    }
  });
});
