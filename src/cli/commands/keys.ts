import { loadConfig } from '../../core/config';
import { Database } from '../../core/db/database';
import { migrate } from '../../core/db/migrator';
import { ensurePostgres } from '../../core/services';
import { createTenantWithKey, listKeys, revokeKey } from '../../core/tenants';
import type { CliContext } from '../cli-context';
import { log, out } from '../cli-context';
import { table } from '../format';
import { UsageError } from '../usage-error';

/**
 * `docbatch keys create|revoke|list`: operator commands that talk to Postgres directly
 * (DATABASE_URL), not to the API. `create` applies pending migrations first, so it works on a
 * fresh database before the platform ever started.
 */
export async function keys(
  ctx: CliContext,
  sub: string | undefined,
  args: { tenant?: string; key?: string },
): Promise<number> {
  if (sub !== 'create' && sub !== 'revoke' && sub !== 'list') {
    throw new UsageError(
      'usage: docbatch keys create --tenant NAME | keys revoke KEY_OR_ID | keys list --tenant NAME',
    );
  }
  if ((sub === 'create' || sub === 'list') && !args.tenant)
    throw new UsageError(`keys ${sub} needs --tenant NAME`);
  if (sub === 'revoke' && !args.key)
    throw new UsageError('keys revoke needs the key (dbk_...) or its id (key_...)');
  if (sub === 'create' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(args.tenant ?? '')) {
    throw new UsageError(
      "--tenant: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }

  const config = loadConfig('api', ctx.env);
  await ensurePostgres(config.DATABASE_URL);
  const db = new Database(config.DATABASE_URL, 2);
  try {
    if (sub === 'create') {
      await migrate(db.pool);
      const created = await createTenantWithKey(db, args.tenant as string);
      if (ctx.json) {
        out(
          ctx,
          JSON.stringify({
            tenant: created.tenant.name,
            api_key: created.api_key,
            webhook_secret: created.webhook_secret,
          }),
        );
      } else {
        out(
          ctx,
          `tenant:         ${created.tenant.name}${created.created ? ' (new)' : ' (existing; new key added)'}`,
        );
        out(ctx, `api key:        ${created.api_key}`);
        out(ctx, `key id:         ${created.key_id}`);
        out(ctx, `webhook secret: ${created.webhook_secret}`);
        log(ctx, 'The API key is shown only this once: store it now (export DOCBATCH_API_KEY=...).');
      }
      return 0;
    }
    if (sub === 'revoke') {
      const revoked = await revokeKey(db, args.key as string);
      if (ctx.json) out(ctx, JSON.stringify({ revoked }));
      else log(ctx, revoked ? 'key revoked' : 'no such active key');
      return revoked ? 0 : 1;
    }
    const rows = await listKeys(db, args.tenant as string);
    if (ctx.json) out(ctx, JSON.stringify(rows));
    else
      out(
        ctx,
        table(
          ['ID', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
          rows.map((r) => [
            r.id,
            r.prefix,
            r.created_at.toISOString(),
            r.last_used_at?.toISOString() ?? '-',
            r.revoked_at?.toISOString() ?? '-',
          ]),
        ),
      );
    return 0;
  } finally {
    await db.close();
  }
}
