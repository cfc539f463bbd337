import { ConnectionError, errorFromResponse } from '@docbatch/sdk';
import type {
  ApiKey as ApiKeyObject,
  CreatedApiKey,
  CreatedTenant,
  RevokedKey,
  TenantList as TenantPage,
  WebhookSecret as WebhookSecretObject,
} from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { UsageError } from '../usage-error';

/**
 * Where the operator commands (`tenants`, `keys`, `webhook-secret`) do their work:
 * - with an admin token (`--admin-token` or env `DOCBATCH_ADMIN_TOKEN`): the admin API of the
 *   server at `--url` (`/admin/api/...`), so an operator needs no database access;
 * - without one: the CLI's local backend when it has one (`CliExtensions.localAdminBackend`: the
 *   server's own CLI works in Postgres directly, `DATABASE_URL`, which works before the API ever
 *   started); this package alone has none, so the token is then required (a usage error).
 * Both return the admin API's objects, so the output is the same either way.
 */
export interface AdminBackend {
  /** Which one: for messages. */
  readonly via: 'api' | 'database';
  createTenant(name: string): Promise<CreatedTenant>;
  listTenants(limit: number, after?: string): Promise<TenantPage>;
  createKey(tenant: string): Promise<CreatedApiKey>;
  listKeys(tenant: string): Promise<ApiKeyObject[]>;
  revokeKey(keyOrId: string): Promise<RevokedKey>;
  webhookSecret(tenant: string): Promise<WebhookSecretObject>;
  rotateWebhookSecret(tenant: string, graceSeconds: number): Promise<WebhookSecretObject>;
  /** `keys create` for a name that may be new: the tenant is created first when it does not exist. */
  createKeyCreatingTenant(
    name: string,
  ): Promise<{ key: CreatedApiKey; webhookSecret: string; tenantCreated: boolean }>;
  close(): Promise<void>;
}

/** The backend for this command line (see {@link AdminBackend}). */
export async function adminBackend(ctx: CliContext): Promise<AdminBackend> {
  if (ctx.adminToken) return new HttpAdminBackend(ctx.url, ctx.adminToken);
  if (ctx.localAdminBackend) return ctx.localAdminBackend(ctx.env);
  throw new UsageError(
    'the operator commands need an admin token: pass --admin-token or set DOCBATCH_ADMIN_TOKEN ' +
      "(the ADMIN_TOKEN of the server at --url); without one, only the server's own CLI works in Postgres",
  );
}

/** The admin API over HTTP (`Authorization: Bearer <ADMIN_TOKEN>`). */
class HttpAdminBackend implements AdminBackend {
  readonly via = 'api';

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}/admin/api${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ConnectionError({
        code: 'CONNECTION_ERROR',
        message: `cannot reach the API at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        cause: err,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw errorFromResponse(res.status, parsed, Number.isFinite(retryAfter) ? retryAfter : undefined);
    }
    if (parsed === undefined) throw errorFromResponse(res.status, undefined);
    return parsed as T;
  }

  private static seg(v: string): string {
    return encodeURIComponent(v);
  }

  createTenant(name: string): Promise<CreatedTenant> {
    return this.call('POST', '/tenants', { name });
  }
  listTenants(limit: number, after?: string): Promise<TenantPage> {
    const qs = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
    return this.call('GET', `/tenants?${qs.toString()}`);
  }
  createKey(tenant: string): Promise<CreatedApiKey> {
    return this.call('POST', `/tenants/${HttpAdminBackend.seg(tenant)}/keys`, {});
  }
  async listKeys(tenant: string): Promise<ApiKeyObject[]> {
    return (await this.call<{ data: ApiKeyObject[] }>('GET', `/tenants/${HttpAdminBackend.seg(tenant)}/keys`))
      .data;
  }
  revokeKey(keyOrId: string): Promise<RevokedKey> {
    return this.call('POST', '/keys/revoke', { key: keyOrId });
  }
  webhookSecret(tenant: string): Promise<WebhookSecretObject> {
    return this.call('GET', `/tenants/${HttpAdminBackend.seg(tenant)}/webhook_secret`);
  }
  rotateWebhookSecret(tenant: string, graceSeconds: number): Promise<WebhookSecretObject> {
    return this.call('POST', `/tenants/${HttpAdminBackend.seg(tenant)}/webhook_secret/rotate`, {
      grace_seconds: graceSeconds,
    });
  }
  async createKeyCreatingTenant(
    name: string,
  ): Promise<{ key: CreatedApiKey; webhookSecret: string; tenantCreated: boolean }> {
    let tenantCreated = false;
    let webhookSecret: string | undefined;
    const exists = await this.call('GET', `/tenants/${HttpAdminBackend.seg(name)}`).then(
      () => true,
      (err: unknown) => {
        if ((err as { code?: string }).code === 'NOT_FOUND') return false;
        throw err;
      },
    );
    if (!exists) {
      try {
        webhookSecret = (await this.createTenant(name)).webhook_secret;
        tenantCreated = true;
      } catch (err) {
        // Created meanwhile by someone else: use it.
        if ((err as { code?: string }).code !== 'TENANT_EXISTS') throw err;
      }
    }
    const key = await this.createKey(name);
    webhookSecret ??= (await this.webhookSecret(name)).webhook_secret;
    return { key, webhookSecret, tenantCreated };
  }
  async close(): Promise<void> {}
}
