import type { CliContext } from '../cli-context';
import { log, out } from '../cli-context';
import { EXIT } from '../exit-codes';
import { table } from '../format';
import { UsageError } from '../usage-error';
import { adminBackend } from './admin-backend';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A usage error unless `name` is a valid tenant name. */
export function assertTenantArg(name: string | undefined): void {
  if (!name || !NAME_RE.test(name)) {
    throw new UsageError(
      "tenant name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }
}

/**
 * `docbatch tenants create NAME | tenants list`. Through the admin API with an admin token,
 * otherwise straight in Postgres (see admin-backend.ts).
 */
export async function tenants(
  ctx: CliContext,
  sub: string | undefined,
  name: string | undefined,
): Promise<number> {
  if (sub !== 'create' && sub !== 'list') {
    throw new UsageError('usage: docbatch tenants create NAME | tenants list');
  }
  if (sub === 'create') assertTenantArg(name);
  if (sub === 'list' && name !== undefined)
    throw new UsageError(`too many arguments for tenants list: ${name}`);

  const backend = await adminBackend(ctx);
  try {
    if (sub === 'create') {
      const t = await backend.createTenant(name as string);
      if (ctx.json) out(ctx, JSON.stringify(t));
      else {
        out(ctx, `tenant:         ${t.name}`);
        out(ctx, `id:             ${t.id}`);
        out(ctx, `webhook secret: ${t.webhook_secret}`);
        log(ctx, `No API key yet: create one with docbatch keys create --tenant ${t.name}`);
      }
      return EXIT.OK;
    }
    const all = [];
    let after: string | undefined;
    for (;;) {
      const page = await backend.listTenants(1000, after);
      all.push(...page.data);
      if (!page.has_more || !page.next_cursor) break;
      after = page.next_cursor;
    }
    if (ctx.json) out(ctx, JSON.stringify(all));
    else
      out(
        ctx,
        table(
          ['NAME', 'ID', 'KEYS', 'REVOKED', 'LAST USED', 'CREATED'],
          all.map((t) => [
            t.name,
            t.id,
            String(t.active_keys),
            String(t.revoked_keys),
            t.last_used_at ?? '-',
            t.created_at,
          ]),
        ),
      );
    return EXIT.OK;
  } finally {
    await backend.close();
  }
}
