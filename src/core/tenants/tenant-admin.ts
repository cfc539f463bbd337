import type { Database } from '../db/database';
import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { newId } from '../ids';
import { rotateWebhookSecret } from '../webhooks/secrets';
import {
  generateApiKey,
  generateWebhookSecret,
  hashApiKey,
  KEY_PREFIX,
  SHOWN_PREFIX_LENGTH,
} from './api-keys';

/**
 * Tenant and key management, as the admin API (`/admin/api/tenants`, `/admin/api/keys`) and the
 * CLI (`docbatch tenants|keys|webhook-secret`) see it. Every function returns the wire objects the
 * admin API sends (ISO dates), so the CLI prints the same thing whether it went through the API or
 * straight to Postgres. Errors a caller can cause are `AppError`s with stable codes: `NOT_FOUND`
 * (unknown tenant or key), `INVALID_REQUEST` (bad name, bad grace period), `TENANT_EXISTS`.
 *
 * A tenant is named by its id (`ten_...`) or its name; an exact id match wins.
 */

/** A tenant in the admin API (never its secrets). */
export interface TenantObject {
  object: 'tenant';
  id: string;
  name: string;
  created_at: string;
  /** Keys not revoked. */
  active_keys: number;
  revoked_keys: number;
  /** Latest `last_used_at` of its keys (at most a minute stale), or null. */
  last_used_at: string | null;
  /** While a webhook secret rotation's grace period runs: when the previous secret stops signing. */
  previous_secret_expires_at: string | null;
}

/** `POST /admin/api/tenants`: the new tenant and its webhook secret. */
export interface CreatedTenant extends TenantObject {
  webhook_secret: string;
}

/** An API key in the admin API (never the key itself, only its prefix). */
export interface ApiKeyObject {
  object: 'api_key';
  id: string;
  tenant: { id: string; name: string };
  /** The first 10 characters of the key (`dbk_` + 6), to recognise it. */
  prefix: string;
  created_at: string;
  /** When the key last authenticated a request, refreshed at most once a minute; null if never. */
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A new key: the only time the key itself is returned. */
export interface CreatedApiKey extends ApiKeyObject {
  api_key: string;
}

/** `POST /admin/api/keys/revoke`: the key, and whether this call revoked it (false: it was already). */
export interface RevokedKey {
  revoked: boolean;
  key: ApiKeyObject;
}

/** A tenant's current webhook secret. */
export interface WebhookSecretObject {
  object: 'webhook_secret';
  tenant: { id: string; name: string };
  webhook_secret: string;
  /**
   * While a rotation's grace period runs: when the previous secret stops signing (until then every
   * delivery carries both signatures). Null otherwise.
   */
  previous_secret_expires_at: string | null;
}

/** Longest grace period of a webhook secret rotation: 30 days, seconds. */
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;
/** Grace period when none is given: 24 hours, seconds. */
export const DEFAULT_GRACE_SECONDS = 24 * 3600;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** Throws INVALID_REQUEST unless `name` is a valid tenant name. */
export function assertTenantName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new AppError('INVALID_REQUEST', `Invalid tenant name: use ${NAME_RULE}.`, [
      { field: 'name', message: NAME_RULE },
    ]);
  }
}

const q = (db: Database | Queryable): Queryable => ('pool' in db ? db.pool : db);
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

interface TenantRef {
  id: string;
  name: string;
}

/** The tenant named by `ref` (id or name; an id match wins). Throws NOT_FOUND. */
export async function resolveTenant(db: Database | Queryable, ref: string): Promise<TenantRef> {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 200) {
    throw new AppError('NOT_FOUND', 'No such tenant.');
  }
  const res = await q(db).query<TenantRef>(
    `SELECT id, name FROM tenants WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`,
    [ref],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('NOT_FOUND', `No tenant ${JSON.stringify(ref)}.`);
  return row;
}

const TENANT_SELECT = `
  SELECT t.id, t.name, t.created_at,
         CASE WHEN t.previous_secret_expires_at > now() THEN t.previous_secret_expires_at END AS grace_until,
         (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL)::int AS active_keys,
         (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NOT NULL)::int AS revoked_keys,
         (SELECT max(k.last_used_at) FROM api_keys k WHERE k.tenant_id = t.id) AS last_used_at
    FROM tenants t`;

interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
  grace_until: Date | null;
  active_keys: number;
  revoked_keys: number;
  last_used_at: Date | null;
}

function toTenantObject(r: TenantRow): TenantObject {
  return {
    object: 'tenant',
    id: r.id,
    name: r.name,
    created_at: r.created_at.toISOString(),
    active_keys: r.active_keys,
    revoked_keys: r.revoked_keys,
    last_used_at: iso(r.last_used_at),
    previous_secret_expires_at: iso(r.grace_until),
  };
}

/** One tenant. Throws NOT_FOUND. */
export async function getTenant(db: Database | Queryable, ref: string): Promise<TenantObject> {
  const t = await resolveTenant(db, ref);
  const res = await q(db).query<TenantRow>(`${TENANT_SELECT} WHERE t.id = $1`, [t.id]);
  const row = res.rows[0];
  if (!row) throw new AppError('NOT_FOUND', `No tenant ${JSON.stringify(ref)}.`);
  return toTenantObject(row);
}

/**
 * Creates tenant `name` with a new webhook secret and no key. Throws INVALID_REQUEST for a bad
 * name and TENANT_EXISTS (409) when the name is taken.
 */
export async function createTenant(db: Database | Queryable, name: unknown): Promise<CreatedTenant> {
  assertTenantName(name);
  const secret = generateWebhookSecret();
  const res = await q(db).query<{ id: string }>(
    `INSERT INTO tenants (id, name, webhook_secret) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO NOTHING RETURNING id`,
    [newId('ten'), name, secret],
  );
  const id = res.rows[0]?.id;
  if (!id) throw new AppError('TENANT_EXISTS', `A tenant named ${JSON.stringify(name)} exists already.`);
  return { ...(await getTenant(db, id)), webhook_secret: secret };
}

export interface TenantPage {
  object: 'list';
  data: TenantObject[];
  has_more: boolean;
  /** Pass back as `after` for the next page (the last tenant's name). */
  next_cursor: string | null;
}

/** Tenants by name, `limit` (1-1000) per page, after the name `after`. */
export async function listTenants(
  db: Database | Queryable,
  opts: { limit: number; after?: string },
): Promise<TenantPage> {
  const res = await q(db).query<TenantRow>(
    `${TENANT_SELECT} WHERE ($1::text IS NULL OR t.name > $1::text COLLATE "C") ORDER BY t.name COLLATE "C" LIMIT $2`,
    [opts.after ?? null, opts.limit + 1],
  );
  const rows = res.rows.slice(0, opts.limit);
  const hasMore = res.rows.length > opts.limit;
  return {
    object: 'list',
    data: rows.map(toTenantObject),
    has_more: hasMore,
    next_cursor: hasMore ? (rows[rows.length - 1]?.name ?? null) : null,
  };
}

interface KeyRow {
  id: string;
  tenant_id: string;
  tenant_name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const KEY_SELECT = `
  SELECT k.id, k.tenant_id, t.name AS tenant_name, k.prefix, k.created_at, k.last_used_at, k.revoked_at
    FROM api_keys k JOIN tenants t ON t.id = k.tenant_id`;

function toKeyObject(r: KeyRow): ApiKeyObject {
  return {
    object: 'api_key',
    id: r.id,
    tenant: { id: r.tenant_id, name: r.tenant_name },
    prefix: r.prefix,
    created_at: r.created_at.toISOString(),
    last_used_at: iso(r.last_used_at),
    revoked_at: iso(r.revoked_at),
  };
}

/** A tenant's keys, oldest first (never the keys themselves). Throws NOT_FOUND for an unknown tenant. */
export async function listTenantKeys(db: Database | Queryable, tenantRef: string): Promise<ApiKeyObject[]> {
  const t = await resolveTenant(db, tenantRef);
  const res = await q(db).query<KeyRow>(`${KEY_SELECT} WHERE k.tenant_id = $1 ORDER BY k.created_at, k.id`, [
    t.id,
  ]);
  return res.rows.map(toKeyObject);
}

/** A new API key for an existing tenant; the key is in `api_key`, returned only here. Throws NOT_FOUND. */
export async function createTenantKey(db: Database | Queryable, tenantRef: string): Promise<CreatedApiKey> {
  const t = await resolveTenant(db, tenantRef);
  const key = generateApiKey();
  const res = await q(db).query<{ id: string; created_at: Date; prefix: string }>(
    `INSERT INTO api_keys (id, tenant_id, key_hash, prefix) VALUES ($1, $2, $3, $4)
     RETURNING id, created_at, prefix`,
    [newId('key'), t.id, hashApiKey(key), key.slice(0, SHOWN_PREFIX_LENGTH)],
  );
  const row = res.rows[0] as { id: string; created_at: Date; prefix: string };
  return {
    object: 'api_key',
    id: row.id,
    tenant: { id: t.id, name: t.name },
    prefix: row.prefix,
    created_at: row.created_at.toISOString(),
    last_used_at: null,
    revoked_at: null,
    api_key: key,
  };
}

/**
 * Revokes a key given its id (`key_...`) or the key itself (`dbk_...`). Idempotent: a key revoked
 * already keeps its `revoked_at` and `revoked` is false. The next request with the key is 401 (the
 * API checks keys in Postgres on every request; there is no cache to wait for). Throws NOT_FOUND.
 */
export async function revokeApiKey(db: Database | Queryable, keyOrId: unknown): Promise<RevokedKey> {
  if (typeof keyOrId !== 'string' || keyOrId.length === 0 || keyOrId.length > 200) {
    throw new AppError('INVALID_REQUEST', '`key` must be a key id (key_...) or an API key (dbk_...).', [
      { field: 'key', message: 'a key id (key_...) or an API key (dbk_...)' },
    ]);
  }
  const byKey = keyOrId.startsWith(KEY_PREFIX);
  const match = byKey ? 'key_hash = $1' : 'id = $1';
  const value = byKey ? hashApiKey(keyOrId) : keyOrId;
  const updated = await q(db).query<{ id: string }>(
    `UPDATE api_keys SET revoked_at = now() WHERE ${match} AND revoked_at IS NULL RETURNING id`,
    [value],
  );
  const res = await q(db).query<KeyRow>(`${KEY_SELECT} WHERE k.${match}`, [value]);
  const row = res.rows[0];
  if (!row)
    throw new AppError('NOT_FOUND', byKey ? 'No such API key.' : `No key ${JSON.stringify(keyOrId)}.`);
  return { revoked: updated.rowCount === 1, key: toKeyObject(row) };
}

/** A tenant's current webhook secret, read again (no key is created). Throws NOT_FOUND. */
export async function getWebhookSecret(
  db: Database | Queryable,
  tenantRef: string,
): Promise<WebhookSecretObject> {
  const t = await resolveTenant(db, tenantRef);
  const res = await q(db).query<{ webhook_secret: string; grace_until: Date | null }>(
    `SELECT webhook_secret,
            CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS grace_until
       FROM tenants WHERE id = $1`,
    [t.id],
  );
  const row = res.rows[0];
  if (!row) throw new AppError('NOT_FOUND', `No tenant ${JSON.stringify(tenantRef)}.`);
  return {
    object: 'webhook_secret',
    tenant: t,
    webhook_secret: row.webhook_secret,
    previous_secret_expires_at: iso(row.grace_until),
  };
}

/** Throws INVALID_REQUEST unless `v` is a whole number of seconds from 0 to {@link MAX_GRACE_SECONDS}. */
export function assertGraceSeconds(v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_GRACE_SECONDS) {
    throw new AppError(
      'INVALID_REQUEST',
      `\`grace_seconds\` must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (30 days).`,
      [{ field: 'grace_seconds', message: `an integer from 0 to ${MAX_GRACE_SECONDS}` }],
    );
  }
}

/**
 * Rotates a tenant's webhook secret: a new secret signs from now on, and the previous one signs
 * beside it for `graceSeconds` (0: dropped at once), so every delivery in the grace period carries
 * both signatures. Rotating during a grace period replaces the previous secret. Throws NOT_FOUND
 * or INVALID_REQUEST.
 */
export async function rotateTenantWebhookSecret(
  db: Database | Queryable,
  tenantRef: string,
  graceSeconds: unknown = DEFAULT_GRACE_SECONDS,
): Promise<WebhookSecretObject> {
  assertGraceSeconds(graceSeconds);
  const t = await resolveTenant(db, tenantRef);
  const rotated = await rotateWebhookSecret(q(db), t.id, graceSeconds / 3600);
  return {
    object: 'webhook_secret',
    tenant: t,
    webhook_secret: rotated.webhookSecret,
    previous_secret_expires_at: iso(rotated.previousSecretExpiresAt),
  };
}
