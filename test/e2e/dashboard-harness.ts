import { Writable } from 'node:stream';
import pino from 'pino';
import { ApiServer } from '../../src/api/server';
import { loadConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import type { Logger } from '../../src/core/logger';
import { createTenantWithKey } from '../../src/core/tenants';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';

/** The admin token of the dashboard tests. */
export const ADMIN_TOKEN = 'dashboard-test-token-4f1c9a';

/** A logger whose JSON lines are kept (to assert on log lines). */
export function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface DashboardHarness {
  env: TestEnvironment;
  api: ApiServer;
  url: string;
  db: Database;
  tenants: Record<string, { id: string; key: string }>;
  /** POST /v1/batches (JSON body) as `tenant`; returns the batch object. */
  submit(tenant: string, body: Record<string, unknown>): Promise<{ id: string; status: string }>;
  /** Logs in through the form; returns the Cookie header value and a CSRF token from the page. */
  login(): Promise<{ cookie: string }>;
  stop(): Promise<void>;
}

/** An isolated database + queue prefix, an ApiServer with ADMIN_TOKEN, and tenants with API keys. */
export async function startDashboard(
  o: { env?: Record<string, string>; tenants?: string[]; logger?: Logger; testEnv?: TestEnvironment } = {},
): Promise<DashboardHarness> {
  const testEnv = o.testEnv ?? (await createTestEnvironment());
  const config = loadConfig('api', {
    ...testEnv.env,
    PORT: '0',
    HOST: '127.0.0.1',
    TF_BACKEND: 'cpu',
    ADMIN_TOKEN,
    ...o.env,
  });
  const api = new ApiServer(config, o.logger ?? pino({ level: 'silent' }));
  try {
    await api.start();
  } catch (err) {
    await api.stop();
    if (!o.testEnv) await testEnv.cleanup();
    throw err;
  }
  const db = new Database(testEnv.databaseUrl, 4);
  const tenants: DashboardHarness['tenants'] = {};
  for (const name of o.tenants ?? ['acme']) {
    const t = await createTenantWithKey(db, name);
    tenants[name] = { id: t.tenant.id, key: t.api_key };
  }
  const url = `http://127.0.0.1:${api.port}`;
  return {
    env: testEnv,
    api,
    url,
    db,
    tenants,
    async submit(tenant, body) {
      const t = tenants[tenant];
      if (!t) throw new Error(`no tenant ${tenant}`);
      const res = await fetch(`${url}/v1/batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const out = (await res.json()) as { id: string; status: string };
      if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${JSON.stringify(out)}`);
      return out;
    },
    async login() {
      const res = await fetch(`${url}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
        body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/admin' }).toString(),
      });
      if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
      const setCookie = res.headers.get('set-cookie') ?? '';
      return { cookie: setCookie.split(';')[0] ?? '' };
    },
    async stop() {
      await api.stop();
      await db.close();
      if (!o.testEnv) await testEnv.cleanup();
    },
  };
}

/** The `_csrf` value of the first form on a page. */
export function csrfFrom(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error('no CSRF token on the page');
  return m[1];
}
