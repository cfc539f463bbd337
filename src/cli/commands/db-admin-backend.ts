import type { AdminBackend } from '@docbatch/cli';
import type {
  ApiKeyObject,
  CreatedApiKey,
  CreatedTenant,
  RevokedKey,
  TenantPage,
  WebhookSecretObject,
} from '../../core/tenants';
import type * as TenantsCore from '../../core/tenants';
import type { Database } from '../../core/db/database';

/**
 * The operator commands' backend of the server's CLI without an admin token: Postgres directly
 * (`DATABASE_URL`), which works before the API ever started. Loaded on demand (Prisma and pg are
 * not needed by the API commands). It returns the admin API's objects, like the HTTP backend of
 * @docbatch/cli, so the output is the same either way.
 */
export class DbAdminBackend implements AdminBackend {
  readonly via = 'database';

  private constructor(
    private readonly db: Database,
    private readonly core: typeof TenantsCore,
  ) {}

  static async open(env: NodeJS.ProcessEnv): Promise<DbAdminBackend> {
    const [{ loadConfig }, { Database }, { ensurePostgres }, core] = await Promise.all([
      import('../../core/config'),
      import('../../core/db/database'),
      import('../../core/services'),
      import('../../core/tenants'),
    ]);
    const config = loadConfig('api', env);
    await ensurePostgres(config.DATABASE_URL);
    return new DbAdminBackend(new Database(config.DATABASE_URL, 2), core);
  }

  /** Applies pending migrations, so creating works on a fresh database. */
  private async migrated(): Promise<void> {
    const { migrate } = await import('../../core/db/migrator');
    await migrate(this.db.pool);
  }

  async createTenant(name: string): Promise<CreatedTenant> {
    await this.migrated();
    return this.core.createTenant(this.db, name);
  }
  listTenants(limit: number, after?: string): Promise<TenantPage> {
    return this.core.listTenants(this.db, { limit, after });
  }
  createKey(tenant: string): Promise<CreatedApiKey> {
    return this.core.createTenantKey(this.db, tenant);
  }
  listKeys(tenant: string): Promise<ApiKeyObject[]> {
    return this.core.listTenantKeys(this.db, tenant);
  }
  revokeKey(keyOrId: string): Promise<RevokedKey> {
    return this.core.revokeApiKey(this.db, keyOrId);
  }
  webhookSecret(tenant: string): Promise<WebhookSecretObject> {
    return this.core.getWebhookSecret(this.db, tenant);
  }
  rotateWebhookSecret(tenant: string, graceSeconds: number): Promise<WebhookSecretObject> {
    return this.core.rotateTenantWebhookSecret(this.db, tenant, graceSeconds);
  }
  async createKeyCreatingTenant(
    name: string,
  ): Promise<{ key: CreatedApiKey; webhookSecret: string; tenantCreated: boolean }> {
    await this.migrated();
    const created = await this.core.createTenantWithKey(this.db, name);
    const [key] = (await this.core.listTenantKeys(this.db, created.tenant.id)).filter(
      (k) => k.id === created.key_id,
    );
    if (!key) throw new Error(`key ${created.key_id} vanished right after it was created`);
    return {
      key: { ...key, api_key: created.api_key },
      webhookSecret: created.webhook_secret,
      tenantCreated: created.created,
    };
  }
  close(): Promise<void> {
    return this.db.close();
  }
}
