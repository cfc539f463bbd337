import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database';
import { newId } from '../ids';

/**
 * Tenants and their API keys. A key is `dbk_<43 base64url chars>` (256 random bits); only its
 * SHA-256 is stored, with its first characters (`prefix`) to recognise it in listings. The key is
 * returned once, at creation. Listing, revoking and webhook secrets: tenant-admin.ts.
 */

/** A tenant as the API sees it after authentication. */
export interface AuthenticatedTenant {
  id: string;
  name: string;
  /** Id of the key that authenticated the request. */
  keyId: string;
}

export interface CreatedTenantKey {
  tenant: { id: string; name: string };
  /** The API key, shown only this once. */
  api_key: string;
  /** The tenant's `whsec_` webhook signing secret. */
  webhook_secret: string;
  /** Id of the new key (`key_...`), for revocation. */
  key_id: string;
  /** False when the tenant existed already and only a new key was created. */
  created: boolean;
}

/** Every API key starts with this. */
export const KEY_PREFIX = 'dbk_';
/** Characters of the key kept in clear (`dbk_` plus 6) to recognise it. */
export const SHOWN_PREFIX_LENGTH = 10;

/** SHA-256 (hex) of an API key: what `api_keys.key_hash` holds. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random API key. */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

async function insertKey(
  db: Database,
  tenantId: string,
): Promise<{ id: string; key: string; prefix: string }> {
  const key = generateApiKey();
  const id = newId('key');
  const prefix = key.slice(0, SHOWN_PREFIX_LENGTH);
  await db.prisma.apiKey.create({ data: { id, tenantId, keyHash: hashApiKey(key), prefix } });
  return { id, key, prefix };
}

function assertName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new Error(
      `invalid tenant name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

/**
 * Creates tenant `name` with a new webhook secret and a first API key. When the tenant exists
 * already, creates one more key for it and returns its existing webhook secret (`created: false`):
 * running `keys create --tenant NAME` twice gives two working keys.
 */
export async function createTenantWithKey(db: Database, name: string): Promise<CreatedTenantKey> {
  assertName(name);
  const tenant = await db.prisma.tenant.upsert({
    where: { name },
    create: { id: newId('ten'), name, webhookSecret: generateWebhookSecret() },
    update: {},
  });
  const created = !(await db.prisma.apiKey.findFirst({
    where: { tenantId: tenant.id },
    select: { id: true },
  }));
  const key = await insertKey(db, tenant.id);
  return {
    tenant: { id: tenant.id, name: tenant.name },
    api_key: key.key,
    webhook_secret: tenant.webhookSecret,
    key_id: key.id,
    created,
  };
}

/**
 * Revokes a key, given either the key itself (`dbk_...`) or its id (`key_...`). Returns true when a
 * key was revoked now, false when it was unknown or revoked already. Takes effect on the next request.
 */
export async function revokeKey(db: Database, keyOrId: string): Promise<boolean> {
  const where = keyOrId.startsWith(KEY_PREFIX) ? { keyHash: hashApiKey(keyOrId) } : { id: keyOrId };
  const res = await db.prisma.apiKey.updateMany({
    where: { ...where, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return res.count > 0;
}

/** How stale `last_used_at` may get before a request refreshes it (one write per key per minute at most). */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * When this process last wrote (or saw) `last_used_at` of each key, so that a burst of requests with
 * one key sends at most one UPDATE per minute from this process, whatever the row said when each
 * request read it. Bounded: entries older than the resolution are dropped when it grows large.
 */
const lastUsedWrites = new Map<string, number>();
const LAST_USED_MEMO_LIMIT = 10_000;

function shouldTouch(keyId: string, lastUsedAt: Date | null, now: number): boolean {
  if (lastUsedAt && now - lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return false;
  const wrote = lastUsedWrites.get(keyId);
  if (wrote !== undefined && now - wrote < LAST_USED_RESOLUTION_MS) return false;
  if (lastUsedWrites.size >= LAST_USED_MEMO_LIMIT) {
    for (const [k, t] of lastUsedWrites) if (now - t >= LAST_USED_RESOLUTION_MS) lastUsedWrites.delete(k);
    if (lastUsedWrites.size >= LAST_USED_MEMO_LIMIT) lastUsedWrites.clear();
  }
  lastUsedWrites.set(keyId, now);
  return true;
}

/**
 * Finds the tenant of a live (not revoked) key; null for an unknown or revoked key. One indexed
 * query per request, with no cache, so a revoked key is refused on its very next request.
 * `last_used_at` is refreshed off the request path at most once a minute per key: this process
 * skips the write when the row or its own last write is under a minute old, and the UPDATE itself
 * only matches a row that is still stale, so concurrent API processes write it once.
 */
export async function authenticate(db: Database, key: string): Promise<AuthenticatedTenant | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const res = await db.pool.query<{ key_id: string; id: string; name: string; last_used_at: Date | null }>(
    `SELECT k.id AS key_id, t.id, t.name, k.last_used_at
       FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
      WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashApiKey(key)],
  );
  const row = res.rows[0];
  if (!row) return null;
  if (shouldTouch(row.key_id, row.last_used_at, Date.now())) {
    db.pool
      .query(
        `UPDATE api_keys SET last_used_at = now()
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
        [row.key_id, LAST_USED_RESOLUTION_MS / 1000],
      )
      .catch(() => lastUsedWrites.delete(row.key_id));
  }
  return { id: row.id, name: row.name, keyId: row.key_id };
}
