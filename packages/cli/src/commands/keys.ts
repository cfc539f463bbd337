import type { CliContext } from '../cli-context';
import { log, out } from '../cli-context';
import { EXIT } from '../exit-codes';
import { table } from '../format';
import { UsageError } from '../usage-error';
import { adminBackend } from './admin-backend';
import { assertTenantArg } from './tenants';

/**
 * `docbatch keys create|list|revoke`: API keys of a tenant. Through the admin API with an admin
 * token, otherwise straight in Postgres (see admin-backend.ts). `create` creates the tenant first
 * when it is new (and, on Postgres, applies pending migrations), so it works on a fresh install.
 */
export async function keys(
  ctx: CliContext,
  sub: string | undefined,
  args: { tenant?: string; key?: string },
): Promise<number> {
  if (sub !== 'create' && sub !== 'revoke' && sub !== 'list') {
    throw new UsageError(
      'usage: docbatch keys create --tenant NAME | keys list --tenant NAME | keys revoke KEY_OR_ID',
    );
  }
  if (sub !== 'revoke' && !args.tenant) throw new UsageError(`keys ${sub} needs --tenant NAME`);
  if (sub === 'revoke' && !args.key)
    throw new UsageError('keys revoke needs the key (dbk_...) or its id (key_...)');
  if (sub === 'revoke' && args.tenant) throw new UsageError('keys revoke takes no --tenant');
  if (sub === 'create') assertTenantArg(args.tenant);

  const backend = await adminBackend(ctx);
  try {
    if (sub === 'create') {
      const { key, webhookSecret, tenantCreated } = await backend.createKeyCreatingTenant(
        args.tenant as string,
      );
      if (ctx.json) {
        // The contract's shape (../shared/api-contract.md): exactly these three fields.
        out(
          ctx,
          JSON.stringify({ tenant: key.tenant.name, api_key: key.api_key, webhook_secret: webhookSecret }),
        );
      } else {
        out(
          ctx,
          `tenant:         ${key.tenant.name}${tenantCreated ? ' (new)' : ' (existing; new key added)'}`,
        );
        out(ctx, `api key:        ${key.api_key}`);
        out(ctx, `key id:         ${key.id}`);
        out(ctx, `webhook secret: ${webhookSecret}`);
        log(ctx, 'The API key is shown only this once: store it now (export DOCBATCH_API_KEY=...).');
      }
      return EXIT.OK;
    }
    if (sub === 'revoke') {
      const result = await backend.revokeKey(args.key as string);
      if (ctx.json) out(ctx, JSON.stringify(result));
      else if (result.revoked) log(ctx, `key ${result.key.id} (${result.key.prefix}...) revoked`);
      else
        log(
          ctx,
          `key ${result.key.id} (${result.key.prefix}...) was revoked already, at ${result.key.revoked_at}`,
        );
      return result.revoked ? EXIT.OK : EXIT.FAILED;
    }
    const rows = await backend.listKeys(args.tenant as string);
    if (ctx.json) out(ctx, JSON.stringify(rows));
    else
      out(
        ctx,
        table(
          ['ID', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
          rows.map((r) => [r.id, r.prefix, r.created_at, r.last_used_at ?? '-', r.revoked_at ?? '-']),
        ),
      );
    return EXIT.OK;
  } finally {
    await backend.close();
  }
}
