import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { generateWebhookSecret } from '@docbatch/sdk';

/** The webhook secrets of a tenant as stored (`tenants` row). */
export interface TenantSecrets {
  webhook_secret: string;
  previous_webhook_secret: string | null;
  previous_secret_expires_at: Date | null;
}

/**
 * The secrets to sign with at `now`: the current one, then the previous one while its grace
 * period runs (both signatures go in `webhook-signature`, so a receiver that still has the old
 * secret keeps verifying).
 */
export function signingSecrets(t: TenantSecrets, now: Date = new Date()): string[] {
  const out = [t.webhook_secret];
  if (t.previous_webhook_secret && t.previous_secret_expires_at && t.previous_secret_expires_at > now)
    out.push(t.previous_webhook_secret);
  return out;
}

export interface RotatedSecret {
  /** The new `whsec_` secret (show it to the tenant once). */
  webhookSecret: string;
  /** Until when the previous secret still signs (null when `graceHours` is 0). */
  previousSecretExpiresAt: Date | null;
}

/**
 * Rotates a tenant's webhook secret: a new secret becomes current and the current one becomes
 * `previous_webhook_secret`, still used to sign beside the new one for `graceHours` hours (0 =
 * drop it at once). Rotating again during a grace period replaces the previous secret. `db` is a
 * `Database`, a pool or a transaction client. Throws NOT_FOUND for an unknown tenant.
 */
export async function rotateWebhookSecret(
  db: Queryable | { pool: Queryable },
  tenantId: string,
  graceHours: number,
  newSecret: string = generateWebhookSecret(),
): Promise<RotatedSecret> {
  if (!Number.isFinite(graceHours) || graceHours < 0 || graceHours > 24 * 30)
    throw new AppError('INVALID_REQUEST', 'grace period must be between 0 and 720 hours');
  const q: Queryable = 'pool' in db ? db.pool : db;
  const res = await q.query<{ previous_secret_expires_at: Date | null }>(
    `UPDATE tenants SET
       previous_webhook_secret = CASE WHEN $3::float8 > 0 THEN webhook_secret END,
       previous_secret_expires_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3::float8 * 3600) END,
       webhook_secret = $2
     WHERE id = $1
     RETURNING previous_secret_expires_at`,
    [tenantId, newSecret, graceHours],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such tenant.');
  return { webhookSecret: newSecret, previousSecretExpiresAt: row.previous_secret_expires_at };
}
