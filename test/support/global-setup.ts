import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { Database } from '../../src/core/db/database';
import { migrate, readMigrations } from '../../src/core/db/migrator';
import { ensurePostgres, ensureRedis } from '../../src/core/services';
import { adminUrl, testBaseUrl, TEMPLATE_ENV } from './test-env';

/**
 * Jest global setup for integration tests: checks the services and makes sure a migrated template
 * database exists. The template's name carries a hash of the migrations, so concurrent runs share
 * it and a changed migration gets a fresh one. Each test file clones it (see test-db.ts).
 */
export default async function globalSetup(): Promise<void> {
  try {
    await ensurePostgres(adminUrl());
    await ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  } catch (err) {
    throw new Error(`integration tests need Postgres and Redis: ${(err as Error).message}`);
  }
  const hash = createHash('sha256');
  for (const m of readMigrations()) hash.update(m.name).update(m.checksum);
  const name = `docbatch_tpl_${hash.digest('hex').slice(0, 12)}`;
  process.env[TEMPLATE_ENV] = name;

  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock(4242001)');
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name}"`);
      const db = new Database(testBaseUrl(name), 1);
      try {
        await migrate(db.pool);
      } catch (err) {
        await db.close();
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        throw err;
      }
      await db.close();
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(4242001)').catch(() => undefined);
    await admin.end();
  }
}
