import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * The admin API for tenants, keys and webhook secrets over HTTP (`/admin/api/...`): its
 * authentication, and every way a client can get a request wrong (400 with a stable code, 404 for
 * an unknown tenant or key, 409 for a taken name), against a live server with real Postgres.
 * The happy paths as an operator runs them are in cli-tenants.test.ts.
 */

const ADMIN_TOKEN = 'admin-api-test-token-0123456789';
let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ ADMIN_TOKEN });
});
afterAll(async () => {
  await h?.stop();
});

interface ErrorBody {
  error: { code: string; message: string; details?: { field?: string; message: string }[] };
}

async function call(
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${h.url}/admin/api${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

function expectError(r: { status: number; body: unknown }, status: number, code: string): ErrorBody['error'] {
  expect({ status: r.status, code: (r.body as ErrorBody).error?.code }).toEqual({ status, code });
  return (r.body as ErrorBody).error;
}

describe('authentication', () => {
  it('refuses a missing or wrong admin token, and a tenant API key, with 401', async () => {
    expectError(await call('GET', '/tenants', { token: null }), 401, 'UNAUTHORIZED');
    expectError(await call('GET', '/tenants', { token: 'wrong-token-wrong-token' }), 401, 'UNAUTHORIZED');
    expectError(await call('POST', '/tenants', { token: h.key, body: { name: 'x' } }), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/keys/revoke', { token: null, body: { key: h.key } }),
      401,
      'UNAUTHORIZED',
    );
    // Nothing was created or revoked.
    expect((await call('GET', '/tenants/x')).status).toBe(404);
    expect(
      (await fetch(`${h.url}/v1/models`, { headers: { authorization: `Bearer ${h.key}` } })).status,
    ).toBe(200);
  });

  it('a dashboard session cookie needs the CSRF token to change anything', async () => {
    const login = await fetch(`${h.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
      body: `token=${ADMIN_TOKEN}&next=/admin`,
    });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^docbatch_admin=/);
    const read = await call('GET', '/tenants', { token: null, headers: { cookie } });
    expect(read.status).toBe(200);
    const write = await call('POST', '/tenants', {
      token: null,
      headers: { cookie, origin: h.url },
      body: { name: 'csrf-victim' },
    });
    expectError(write, 403, 'FORBIDDEN');
    expect((await call('GET', '/tenants/csrf-victim')).status).toBe(404);
  });
});

describe('tenants', () => {
  it('creates a tenant (201) and refuses a taken name with 409 TENANT_EXISTS', async () => {
    const r = await call('POST', '/tenants', { body: { name: 'wayne.ent' } });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      object: 'tenant',
      id: expect.stringMatching(/^ten_/),
      name: 'wayne.ent',
      created_at: expect.any(String),
      active_keys: 0,
      revoked_keys: 0,
      last_used_at: null,
      previous_secret_expires_at: null,
      webhook_secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    const id = (r.body as { id: string }).id;
    expectError(await call('POST', '/tenants', { body: { name: 'wayne.ent' } }), 409, 'TENANT_EXISTS');
    // By id and by name.
    for (const ref of [id, 'wayne.ent']) {
      const got = await call('GET', `/tenants/${ref}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id, name: 'wayne.ent' });
      expect(got.body).not.toHaveProperty('webhook_secret');
    }
  });

  it('bad bodies are 400 INVALID_REQUEST (or 413), and nothing is stored', async () => {
    const cases: [unknown, string | undefined][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'has space' }, 'name'],
      [{ name: '-leading' }, 'name'],
      [{ name: 'x'.repeat(65) }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: 'ok', color: 'blue' }, 'color'],
      [['name'], undefined],
      ['name', undefined],
    ];
    for (const [body, field] of cases) {
      const err = expectError(await call('POST', '/tenants', { body }), 400, 'INVALID_REQUEST');
      if (field) expect(err.details?.map((d) => d.field)).toContain(field);
    }
    expectError(await call('POST', '/tenants', { raw: '{"name": "broken"' }), 400, 'INVALID_REQUEST');
    expectError(
      await call('POST', '/tenants', { raw: `{"name": "${'x'.repeat(20_000)}"}` }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    const list = await call('GET', '/tenants?limit=1000');
    const names = (list.body as { data: { name: string }[] }).data.map((t) => t.name);
    expect(names).not.toContain('ok');
    expect(names).not.toContain('broken');
  });

  it('lists tenants by name, a page at a time', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) {
      expect((await call('POST', '/tenants', { body: { name } })).status).toBe(201);
    }
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 20; i++) {
      const r = await call('GET', `/tenants?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      expect(r.status).toBe(200);
      const page = r.body as {
        object: string;
        data: { name: string }[];
        has_more: boolean;
        next_cursor: string | null;
      };
      expect(page.object).toBe('list');
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((t) => t.name));
      if (!page.has_more) {
        expect(page.next_cursor).toBeNull();
        break;
      }
      after = page.next_cursor as string;
    }
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(['acme', 'page-a', 'page-b', 'page-c']));
    for (const bad of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5']) {
      expectError(await call('GET', `/tenants?${bad}`), 400, 'INVALID_REQUEST');
    }
  });

  it('an unknown tenant is 404 NOT_FOUND on every tenant route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['GET', '/tenants/nobody'],
      ['GET', '/tenants/nobody/keys'],
      ['POST', '/tenants/nobody/keys'],
      ['GET', '/tenants/nobody/webhook_secret'],
      ['POST', '/tenants/nobody/webhook_secret/rotate'],
      ['GET', '/tenants/ten_0000000000nothing'],
    ];
    for (const [method, path] of routes) expectError(await call(method, path), 404, 'NOT_FOUND');
  });
});

describe('keys', () => {
  it('creates a key that works at once and is refused on the request right after its revocation', async () => {
    const created = await call('POST', '/tenants/acme/keys');
    expect(created.status).toBe(201);
    const key = created.body as { id: string; api_key: string; prefix: string; tenant: { name: string } };
    expect(key).toMatchObject({
      object: 'api_key',
      tenant: { name: 'acme' },
      last_used_at: null,
      revoked_at: null,
    });
    expect(key.api_key.startsWith(key.prefix)).toBe(true);
    const v1 = (k: string) => fetch(`${h.url}/v1/models`, { headers: { authorization: `Bearer ${k}` } });
    expect((await v1(key.api_key)).status).toBe(200);

    const listed = await call('GET', '/tenants/acme/keys');
    expect(listed.status).toBe(200);
    const data = (listed.body as { data: Record<string, unknown>[] }).data;
    expect(data.map((k) => k.id)).toContain(key.id);
    for (const k of data) expect(k).not.toHaveProperty('api_key');

    const revoked = await call('POST', '/keys/revoke', { body: { key: key.id } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      revoked: true,
      key: { id: key.id, revoked_at: expect.any(String) },
    });
    expect((await v1(key.api_key)).status).toBe(401);
    // Idempotent: revoked already, revoked_at unchanged.
    const again = await call('POST', '/keys/revoke', { body: { key: key.api_key } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ revoked: false, key: (revoked.body as { key: unknown }).key });
    // The harness's own key of acme is untouched.
    expect((await v1(h.key)).status).toBe(200);
  });

  it('revoke: bad input is 400, an unknown key 404', async () => {
    for (const body of [{}, { key: 42 }, { key: '' }, { key: 'key_x', extra: 1 }]) {
      expectError(await call('POST', '/keys/revoke', { body }), 400, 'INVALID_REQUEST');
    }
    expectError(
      await call('POST', '/keys/revoke', { body: { key: 'key_0000000000unknown' } }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await call('POST', '/keys/revoke', { body: { key: `dbk_${'A'.repeat(43)}` } }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await call('POST', '/tenants/acme/keys', { body: { name: 'label' } }),
      400,
      'INVALID_REQUEST',
    );
  });
});

describe('webhook secret', () => {
  it('reads the secret again without creating a key; rotates with a grace period', async () => {
    const keysBefore = (await call('GET', '/tenants/acme/keys')).body as { data: unknown[] };
    const read = await call('GET', '/tenants/acme/webhook_secret');
    expect(read.status).toBe(200);
    const secret = read.body as { webhook_secret: string; previous_secret_expires_at: string | null };
    expect(secret).toMatchObject({ object: 'webhook_secret', tenant: { name: 'acme' } });
    expect((await call('GET', '/tenants/acme/webhook_secret')).body).toEqual(secret);
    expect(((await call('GET', '/tenants/acme/keys')).body as { data: unknown[] }).data).toHaveLength(
      keysBefore.data.length,
    );

    // No body: the default grace period of 24 h.
    const t0 = Date.now();
    const rotated = await call('POST', '/tenants/acme/webhook_secret/rotate');
    expect(rotated.status).toBe(200);
    const r = rotated.body as { webhook_secret: string; previous_secret_expires_at: string };
    expect(r.webhook_secret).not.toBe(secret.webhook_secret);
    const until = Date.parse(r.previous_secret_expires_at) - t0;
    expect(until).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(until).toBeLessThan(24 * 3600_000 + 60_000);
    expect((await call('GET', '/tenants/acme')).body).toMatchObject({
      previous_secret_expires_at: r.previous_secret_expires_at,
    });

    const now = await call('POST', '/tenants/acme/webhook_secret/rotate', { body: { grace_seconds: 0 } });
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ previous_secret_expires_at: null });
  });

  it('a bad grace period is 400 and changes nothing', async () => {
    const before = (await call('GET', '/tenants/acme/webhook_secret')).body;
    for (const body of [
      { grace_seconds: -1 },
      { grace_seconds: 1.5 },
      { grace_seconds: '60' },
      { grace_seconds: 30 * 86400 + 1 },
      { grace_seconds: null },
      { grace: 60 },
    ]) {
      const err = expectError(
        await call('POST', '/tenants/acme/webhook_secret/rotate', { body }),
        400,
        'INVALID_REQUEST',
      );
      expect(err.details?.length).toBeGreaterThan(0);
    }
    expect((await call('GET', '/tenants/acme/webhook_secret')).body).toEqual(before);
  });
});
