import { Redis } from 'ioredis';
import { Client } from 'pg';
import { redactUrl } from './db/database';
import { ServiceUnavailableError } from './errors';

/**
 * Start-up checks for the backing services. They turn "connect ECONNREFUSED" into one line that
 * names the URL and the fix, and create the database when the server is up but the database
 * does not exist yet (fresh machine).
 */

const PG_FIX =
  'start Postgres (`npm run services`, `docker compose up -d postgres`, or your service manager) or set DATABASE_URL';
const REDIS_FIX = 'start Redis (`npm run services`, `docker compose up -d redis`) or set REDIS_URL';

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

/** Connects to Postgres; creates the database if the server is up and the database is missing. */
export async function ensurePostgres(url: string, timeoutMs = 5_000): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') {
      throw new ServiceUnavailableError(
        'postgres',
        `cannot reach Postgres at ${redactUrl(url)} (${reason(err)}): ${PG_FIX}`,
      );
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  // 3D000: database does not exist. Create it through the maintenance database.
  const u = new URL(url);
  const dbName = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/postgres';
  const admin = new Client({ connectionString: u.toString(), connectionTimeoutMillis: timeoutMs });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return; // created concurrently
    throw new ServiceUnavailableError(
      'postgres',
      `database "${dbName}" does not exist at ${redactUrl(url)} and could not be created (${reason(err)}): create it or set DATABASE_URL`,
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** Pings Redis once. */
export async function ensureRedis(url: string, timeoutMs = 5_000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    const policy = await redis.config('GET', 'maxmemory-policy').catch(() => null);
    const value = Array.isArray(policy) ? policy[1] : undefined;
    if (value && value !== 'noeviction') {
      throw new ServiceUnavailableError(
        'redis',
        `Redis at ${redactUrl(url)} has maxmemory-policy=${value}; BullMQ requires noeviction (redis-cli config set maxmemory-policy noeviction)`,
      );
    }
  } catch (err) {
    if (err instanceof ServiceUnavailableError) throw err;
    throw new ServiceUnavailableError(
      'redis',
      `cannot reach Redis at ${redactUrl(url)} (${reason(err)}): ${REDIS_FIX}`,
    );
  } finally {
    redis.disconnect();
  }
}
