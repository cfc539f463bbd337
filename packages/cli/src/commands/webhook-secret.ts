import type { WebhookSecret as WebhookSecretObject } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { log, out } from '../cli-context';
import { EXIT } from '../exit-codes';
import { UsageError } from '../usage-error';
import { adminBackend } from './admin-backend';

/** Longest grace period, seconds (30 days; the server's limit too). */
const MAX_GRACE_SECONDS = 30 * 24 * 3600;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `--grace`: `0`, or a whole number with a unit (`30s`, `90m`, `24h`, `7d`), at most 30 days. */
export function parseGrace(value: string | undefined): number {
  if (value === undefined) return 24 * 3600;
  const m = /^(\d{1,7})([smhd])$/.exec(value.trim());
  const seconds = value.trim() === '0' ? 0 : m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] ?? 0) : NaN;
  if (!Number.isInteger(seconds) || seconds > MAX_GRACE_SECONDS) {
    throw new UsageError(
      `--grace: use 0 or a duration such as 30s, 90m, 24h or 7d (at most 30d), not ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

function print(ctx: CliContext, s: WebhookSecretObject, rotated: boolean): void {
  if (ctx.json) {
    out(ctx, JSON.stringify(s));
    return;
  }
  out(ctx, `tenant:         ${s.tenant.name}`);
  out(ctx, `webhook secret: ${s.webhook_secret}`);
  if (s.previous_secret_expires_at)
    out(ctx, `previous secret signs too until ${s.previous_secret_expires_at}`);
  if (rotated) {
    log(
      ctx,
      s.previous_secret_expires_at
        ? 'Deliveries now carry both signatures; deploy the new secret to your receiver before the grace period ends.'
        : 'The previous secret no longer signs: deliveries carry only the new signature.',
    );
  }
}

/**
 * `docbatch webhook-secret show --tenant NAME` (read the current secret again; creates nothing) and
 * `webhook-secret rotate --tenant NAME [--grace 24h]`.
 */
export async function webhookSecret(
  ctx: CliContext,
  sub: string | undefined,
  args: { tenant?: string; grace?: string },
): Promise<number> {
  if (sub !== 'show' && sub !== 'rotate') {
    throw new UsageError(
      'usage: docbatch webhook-secret show --tenant NAME | webhook-secret rotate --tenant NAME [--grace 24h]',
    );
  }
  if (!args.tenant) throw new UsageError(`webhook-secret ${sub} needs --tenant NAME`);
  if (sub === 'show' && args.grace !== undefined)
    throw new UsageError('--grace goes with webhook-secret rotate');
  const grace = parseGrace(args.grace);

  const backend = await adminBackend(ctx);
  try {
    if (sub === 'show') print(ctx, await backend.webhookSecret(args.tenant), false);
    else print(ctx, await backend.rotateWebhookSecret(args.tenant, grace), true);
    return EXIT.OK;
  } finally {
    await backend.close();
  }
}
