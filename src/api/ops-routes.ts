import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Database } from '../core/db/database';
import { migrationStatus } from '../core/db/migrator';
import { storageFullRemainingMs } from '../core/errors';
import { registry } from '../core/metrics';

/** Runs `p` with a time limit; rejects with a timeout error. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface ReadinessCheck {
  ok: boolean;
  error?: string;
}

/** Checks Postgres, Redis and migrations. */
export async function readiness(db: Database, redis: Redis): Promise<Record<string, ReadinessCheck>> {
  const check = async (fn: () => Promise<void>): Promise<ReadinessCheck> => {
    try {
      await within(fn(), 2_000);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message.split('\n')[0] };
    }
  };
  const [postgres, redisCheck] = await Promise.all([
    check(async () => {
      await db.pool.query('SELECT 1');
    }),
    check(async () => {
      await redis.ping();
    }),
  ]);
  const migrations = postgres.ok
    ? await check(async () => {
        const s = await migrationStatus(db.pool);
        if (s.pending.length > 0) throw new Error(`pending migrations: ${s.pending.join(', ')}`);
        if (s.failed.length > 0) throw new Error(`failed migrations: ${s.failed.join(', ')}`);
      })
    : { ok: false, error: 'postgres unavailable' };
  // A write refused for lack of disk space in the last 30 s (see errors.ts): not ready to take uploads.
  const fullMs = storageFullRemainingMs();
  const storage: ReadinessCheck =
    fullMs > 0
      ? {
          ok: false,
          error: `postgres refused a write for lack of disk space (SQLSTATE 53100); rechecked in ${Math.ceil(fullMs / 1000)} s`,
        }
      : { ok: true };
  return { postgres, redis: redisCheck, migrations, storage };
}

/** `/healthz`, `/readyz`, `/metrics`: no API key. */
export function opsRouter(db: Database, redis: Redis, beforeScrape?: () => Promise<void>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res, next) => {
    readiness(db, redis).then((checks) => {
      const ok = Object.values(checks).every((c) => c.ok);
      res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', checks });
    }, next);
  });
  router.get('/metrics', (_req, res, next) => {
    (beforeScrape ? within(beforeScrape(), 2_000).catch(() => undefined) : Promise.resolve())
      .then(() => registry.metrics())
      .then((text) => {
        res.set('Content-Type', registry.contentType).send(text);
      }, next);
  });
  return router;
}
