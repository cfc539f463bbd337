import { createLogger } from '../../src/core/logger';
import { loadConfig } from '../../src/core/config';
import { verifyWebhook, WebhookVerificationError } from '../../packages/sdk/src/webhook-signature';
import { DocBatchClient } from '@docbatch/sdk';
import { WebhookWorker } from '../../src/workers/webhook-worker';
import { waitFor } from '../support/wait-for';
import { processDocuments, startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';
import { TestReceiver } from './webhooks-receiver';
import type { ReceivedWebhook } from './webhooks-receiver';

/**
 * Tenant, key and webhook secret management as an operator runs it: the real `docbatch` command as
 * a subprocess, through the admin API of a live server (`DOCBATCH_ADMIN_TOKEN`) and straight in
 * Postgres (no admin token), and the effect checked the way a tenant sees it: its key accepted or
 * refused by the API, its webhooks signed with the old and the new secret.
 */

const ADMIN_TOKEN = 'test-admin-token-0123456789';

let h: CliHarness;
let receiver: TestReceiver;
let worker: WebhookWorker | undefined;

/** Through the admin API. */
const admin = (args: string[]) => h.cli(args, { env: { DOCBATCH_ADMIN_TOKEN: ADMIN_TOKEN } });
/** Straight in Postgres (the harness's DATABASE_URL, no admin token). */
const direct = (args: string[]) => h.cli(args);
const json = <T>(r: { stdout: string }): T => JSON.parse(r.stdout) as T;

interface Tenant {
  object: string;
  id: string;
  name: string;
  active_keys: number;
  revoked_keys: number;
  last_used_at: string | null;
  previous_secret_expires_at: string | null;
  webhook_secret?: string;
}
interface Key {
  object: string;
  id: string;
  tenant: { id: string; name: string };
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface Secret {
  tenant: { id: string; name: string };
  webhook_secret: string;
  previous_secret_expires_at: string | null;
}

jest.setTimeout(120_000);

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  h = await startCliHarness({ ADMIN_TOKEN, WEBHOOK_ALLOWLIST: '127.0.0.1/32' });
});
afterAll(async () => {
  await worker?.stop();
  await receiver?.stop();
  await h?.stop();
});

async function apiStatus(key: string): Promise<number> {
  const res = await fetch(`${h.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('tenants and keys through the admin API', () => {
  it('tenants create shows the webhook secret; reading it again creates no key; a second create is TENANT_EXISTS', async () => {
    const created = await admin(['tenants', 'create', 'globex', '--json']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const t = json<Tenant>(created);
    expect(t).toMatchObject({ object: 'tenant', name: 'globex', active_keys: 0, revoked_keys: 0 });
    expect(t.id).toMatch(/^ten_/);
    expect(t.webhook_secret).toMatch(/^whsec_/);

    const again = await admin(['tenants', 'create', 'globex']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('TENANT_EXISTS');

    // Read the secret twice, by name and by id: the same secret, and still no key.
    const shown = await admin(['webhook-secret', 'show', '--tenant', 'globex', '--json']);
    expect(shown.code).toBe(0);
    expect(json<Secret>(shown)).toEqual({
      object: 'webhook_secret',
      tenant: { id: t.id, name: 'globex' },
      webhook_secret: t.webhook_secret,
      previous_secret_expires_at: null,
    });
    const human = await admin(['webhook-secret', 'show', '--tenant', t.id]);
    expect(human.stdout).toContain(`webhook secret: ${t.webhook_secret}`);
    const keys = await admin(['keys', 'list', '--tenant', 'globex', '--json']);
    expect(keys.code).toBe(0);
    expect(json<Key[]>(keys)).toEqual([]);

    const list = await admin(['tenants', 'list', '--json']);
    expect(list.code).toBe(0);
    const listed = json<Tenant[]>(list).find((x) => x.name === 'globex');
    expect(listed).toMatchObject({ id: t.id, active_keys: 0, revoked_keys: 0, last_used_at: null });
    expect(listed).not.toHaveProperty('webhook_secret');
    const table = await admin(['tenants', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+ID\s+KEYS\s+REVOKED\s+LAST USED\s+CREATED$/);
    expect(table.stdout).toMatch(new RegExp(`^globex\\s+${t.id}\\s+0\\s+0\\s+-\\s`, 'm'));
  });

  it('keys create/list/revoke: the key works, last use is shown, a revoked key is refused on its next request', async () => {
    const created = await admin(['keys', 'create', '--tenant', 'initech', '--json']);
    expect(created.code).toBe(0);
    const out = json<Record<string, string>>(created);
    // The contract's shape, also through the API, and the tenant is created when new.
    expect(Object.keys(out)).toEqual(['tenant', 'api_key', 'webhook_secret']);
    expect(out).toMatchObject({ tenant: 'initech' });
    const key = out.api_key as string;
    expect(key).toMatch(/^dbk_[A-Za-z0-9_-]{43}$/);
    const second = await admin(['keys', 'create', '--tenant', 'initech']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('(existing; new key added)');
    expect(second.stdout).toContain(`webhook secret: ${out.webhook_secret}`);
    const secondKey = /api key:\s+(dbk_\S+)/.exec(second.stdout)?.[1] as string;

    expect(await apiStatus(key)).toBe(200);
    // last_used_at is written off the request path: wait for it.
    const used = await waitFor(async () => {
      const r = await admin(['keys', 'list', '--tenant', 'initech', '--json']);
      const rows = json<Key[]>(r);
      return rows.find((k) => key.startsWith(k.prefix))?.last_used_at ? rows : null;
    }, 'last_used_at of the used key');
    expect(used).toHaveLength(2);
    const [first, other] = used as [Key, Key];
    expect(first).toMatchObject({ object: 'api_key', tenant: { name: 'initech' }, revoked_at: null });
    expect(key.startsWith(first.prefix)).toBe(true);
    expect(other.last_used_at).toBeNull();

    // Within the minute, more requests do not rewrite last_used_at.
    for (let i = 0; i < 3; i++) expect(await apiStatus(key)).toBe(200);
    const row = await h.db.pool.query<{ last_used_at: Date }>(
      'SELECT last_used_at FROM api_keys WHERE id = $1',
      [first.id],
    );
    expect(row.rows[0]?.last_used_at.toISOString()).toBe(first.last_used_at);

    const table = await admin(['keys', 'list', '--tenant', 'initech']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(table.stdout).toContain(first.id);

    // Revoke by id: refused at once, the other key still works.
    const revoked = await admin(['keys', 'revoke', first.id, '--json']);
    expect(revoked.code).toBe(0);
    expect(json<{ revoked: boolean; key: Key }>(revoked)).toMatchObject({
      revoked: true,
      key: { id: first.id, revoked_at: expect.any(String) },
    });
    expect(await apiStatus(key)).toBe(401);
    expect(await apiStatus(secondKey)).toBe(200);

    // Revoking again: exit 1 and says so; revoking by the key itself works too.
    const again = await admin(['keys', 'revoke', first.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('was revoked already');
    const byValue = await admin(['keys', 'revoke', secondKey]);
    expect(byValue.code).toBe(0);
    expect(byValue.stderr).toContain('revoked');
    expect(await apiStatus(secondKey)).toBe(401);

    const tenants = json<Tenant[]>(await admin(['tenants', 'list', '--json']));
    expect(tenants.find((x) => x.name === 'initech')).toMatchObject({ active_keys: 0, revoked_keys: 2 });
    // The tenant's last use is its keys' latest (the second key was used last).
    const secondUse = Date.parse(tenants.find((x) => x.name === 'initech')?.last_used_at ?? '');
    expect(secondUse).toBeGreaterThanOrEqual(Date.parse(first.last_used_at as string));
  });

  it('errors: unknown tenant or key exit 1 with NOT_FOUND, a wrong admin token with UNAUTHORIZED', async () => {
    const cases = await Promise.all([
      admin(['keys', 'list', '--tenant', 'nobody']),
      admin(['keys', 'revoke', 'key_nonexistent']),
      admin(['webhook-secret', 'rotate', '--tenant', 'nobody']),
      admin(['webhook-secret', 'show', '--tenant', 'nobody']),
    ]);
    for (const r of cases) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('NOT_FOUND');
    }
    const wrong = await h.cli(['tenants', 'list'], { env: { DOCBATCH_ADMIN_TOKEN: 'not-the-admin-token' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('UNAUTHORIZED');
    const flag = await h.cli(['--admin-token', ADMIN_TOKEN, 'tenants', 'list', '--json']);
    expect(flag.code).toBe(0);
    const down = await h.cli(['tenants', 'list'], {
      env: { DOCBATCH_ADMIN_TOKEN: ADMIN_TOKEN, DOCBATCH_URL: 'http://127.0.0.1:9' },
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the API at http://127.0.0.1:9');
  });

  it('usage errors exit 2; --help lists the operator commands', async () => {
    const cases: [string[], string][] = [
      [['tenants'], 'usage: docbatch tenants'],
      [['tenants', 'create'], 'tenant name'],
      [['tenants', 'create', 'bad name'], 'tenant name'],
      [['tenants', 'list', 'extra'], 'too many arguments'],
      [['keys', 'list'], 'needs --tenant'],
      [['keys', 'revoke'], 'needs the key'],
      [['webhook-secret', 'rotate'], 'needs --tenant'],
      [['webhook-secret', 'rotate', '--tenant', 'x', '--grace', '5y'], '--grace'],
      [['webhook-secret', 'rotate', '--tenant', 'x', '--grace', '31d'], 'at most 30d'],
      [['webhook-secret', 'show', '--tenant', 'x', '--grace', '1h'], '--grace goes with'],
      [['webhook-secret', 'peek', '--tenant', 'x'], 'usage: docbatch webhook-secret'],
    ];
    const runs = await Promise.all(cases.map(([args]) => admin(args)));
    runs.forEach((r, i) => {
      expect([cases[i]?.[0], r.code]).toEqual([cases[i]?.[0], 2]);
      expect(r.stderr).toContain(cases[i]?.[1]);
    });
    const help = await h.cli(['--help']);
    expect(help.code).toBe(0);
    for (const line of [
      'tenants create NAME',
      'tenants list',
      'keys create --tenant NAME',
      'keys list --tenant NAME',
      'keys revoke KEY_OR_ID',
      'webhook-secret show --tenant NAME',
      'webhook-secret rotate --tenant NAME [--grace 24h]',
      '--admin-token',
    ]) {
      expect(help.stdout).toContain(line);
    }
  });
});

describe('without an admin token: straight in Postgres', () => {
  it('the same commands and output, and the server sees the changes', async () => {
    const created = await direct(['tenants', 'create', 'umbrella', '--json']);
    expect(created.code).toBe(0);
    const t = json<Tenant>(created);
    expect(t).toMatchObject({ object: 'tenant', name: 'umbrella', active_keys: 0 });
    expect((await direct(['tenants', 'create', 'umbrella'])).stderr).toContain('TENANT_EXISTS');

    const key = json<{ api_key: string }>(
      await direct(['keys', 'create', '--tenant', 'umbrella', '--json']),
    ).api_key;
    expect(await apiStatus(key)).toBe(200);
    const viaApi = json<Key[]>(await admin(['keys', 'list', '--tenant', 'umbrella', '--json']));
    const viaDb = json<Key[]>(await direct(['keys', 'list', '--tenant', 'umbrella', '--json']));
    expect(viaDb.map((k) => ({ ...k, last_used_at: null }))).toEqual(
      viaApi.map((k) => ({ ...k, last_used_at: null })),
    );
    expect(
      json<Secret>(await direct(['webhook-secret', 'show', '--tenant', 'umbrella', '--json'])),
    ).toMatchObject({
      webhook_secret: t.webhook_secret,
    });
    expect(json<Tenant[]>(await direct(['tenants', 'list', '--json'])).map((x) => x.name)).toContain(
      'umbrella',
    );

    const revoke = await direct(['keys', 'revoke', key]);
    expect(revoke.code).toBe(0);
    expect(await apiStatus(key)).toBe(401);
    expect((await direct(['keys', 'list', '--tenant', 'nobody'])).stderr).toContain('NOT_FOUND');
  });
});

describe('webhook secret rotation', () => {
  it('deliveries during the grace period carry both signatures, after it only the new one', async () => {
    worker = new WebhookWorker({
      pool: h.db.pool,
      config: loadConfig('worker', {
        ...h.env.env,
        WEBHOOK_ALLOWLIST: '127.0.0.1/32',
        WEBHOOK_RETRY_SCHEDULE: '0.2,0.2',
        WEBHOOK_TIMEOUT_MS: '3000',
        WEBHOOK_RELAY_INTERVAL_MS: '50',
      }),
      logger: createLogger('silent'),
    });
    await worker.start();
    const created = json<{ api_key: string; webhook_secret: string }>(
      await admin(['keys', 'create', '--tenant', 'hooks', '--json']),
    );
    const oldSecret = created.webhook_secret;
    const sdk = new DocBatchClient({ baseUrl: h.url, apiKey: created.api_key });

    /** Submits a one-document batch with a webhook, finishes it, returns the request received. */
    const deliver = async (path: string) => {
      const batch = await sdk.createBatch({
        task: 'summarization',
        documents: [{ id: 'd1', text: 'One sentence here. Another one.' }],
        webhook_url: receiver.url(path),
      });
      expect(await processDocuments(h.db, batch.id)).toBe(1);
      return (await waitFor(() => receiver.at(path)[0], `the webhook on ${path}`)) as ReceivedWebhook;
    };

    const before = await deliver('/before');
    expect(String(before.headers['webhook-signature']).split(' ')).toHaveLength(1);
    verifyWebhook(oldSecret, before.headers, before.body);

    const grace = 15;
    const rotated = await admin([
      'webhook-secret',
      'rotate',
      '--tenant',
      'hooks',
      '--grace',
      `${grace}s`,
      '--json',
    ]);
    expect(rotated.code).toBe(0);
    const r = json<Secret>(rotated);
    expect(r.webhook_secret).toMatch(/^whsec_/);
    expect(r.webhook_secret).not.toBe(oldSecret);
    const graceEnds = Date.parse(r.previous_secret_expires_at as string);
    expect(graceEnds - Date.now()).toBeGreaterThan(0);
    expect(graceEnds - Date.now()).toBeLessThanOrEqual(grace * 1000);
    // show reports the running grace period.
    expect(json<Secret>(await admin(['webhook-secret', 'show', '--tenant', 'hooks', '--json']))).toEqual(r);

    const during = await deliver('/during');
    expect(during.at).toBeLessThan(graceEnds);
    const sigs = String(during.headers['webhook-signature']).split(' ');
    expect(sigs).toHaveLength(2);
    // A receiver with either secret accepts it.
    verifyWebhook(r.webhook_secret, during.headers, during.body);
    verifyWebhook(oldSecret, during.headers, during.body);

    await waitFor(
      () => Date.now() > graceEnds + 50,
      'the end of the grace period',
      grace * 1000 + 5_000,
      100,
    );
    const after = await deliver('/after');
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    verifyWebhook(r.webhook_secret, after.headers, after.body);
    expect(() => verifyWebhook(oldSecret, after.headers, after.body)).toThrow(WebhookVerificationError);
    const shown = json<Secret>(await admin(['webhook-secret', 'show', '--tenant', 'hooks', '--json']));
    expect(shown.previous_secret_expires_at).toBeNull();

    // --grace 0: the old secret stops signing at once.
    const now = json<Secret>(
      await admin(['webhook-secret', 'rotate', '--tenant', 'hooks', '--grace', '0', '--json']),
    );
    expect(now.previous_secret_expires_at).toBeNull();
    const immediate = await deliver('/immediate');
    expect(String(immediate.headers['webhook-signature']).split(' ')).toHaveLength(1);
    verifyWebhook(now.webhook_secret, immediate.headers, immediate.body);
    expect(() => verifyWebhook(r.webhook_secret, immediate.headers, immediate.body)).toThrow(
      WebhookVerificationError,
    );
  });
});
