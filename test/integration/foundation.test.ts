import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiServer } from '../../src/api/server';
import { loadConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import { migrate, migrationStatus, readMigrations } from '../../src/core/db/migrator';
import { createLogger } from '../../src/core/logger';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait-for';

let env: TestEnvironment;
let db: Database;

beforeAll(async () => {
  env = await createTestEnvironment();
  db = new Database(env.databaseUrl, 4);
});
afterAll(async () => {
  await db.close();
  await env.cleanup();
});

describe('migrations', () => {
  it('records every migration in _prisma_migrations like prisma migrate deploy', async () => {
    const rows = await db.pool.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      applied_steps_count: number;
      id: string;
    }>(
      'SELECT id, migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
    );
    const onDisk = readMigrations();
    expect(rows.rows.map((r) => r.migration_name)).toEqual(onDisk.map((m) => m.name));
    for (const row of rows.rows) {
      const file = path.resolve(__dirname, '../../prisma/migrations', row.migration_name, 'migration.sql');
      expect(row.checksum).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(await migrationStatus(db.pool)).toEqual({
      applied: onDisk.map((m) => m.name),
      pending: [],
      modified: [],
      failed: [],
    });
  });

  it('is idempotent and safe when run concurrently', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    expect(results).toEqual([[], [], []]);
    const n = await db.pool.query('SELECT count(*)::int AS n FROM "_prisma_migrations"');
    expect(n.rows[0].n).toBe(readMigrations().length);
  });

  it('applies a new migration from a directory and reports it pending before', async () => {
    const dir = path.resolve(__dirname, '../../prisma/migrations');
    const status = await migrationStatus(db.pool, dir);
    expect(status.pending).toEqual([]);
  });
});

describe('generated client agrees with the migrated database', () => {
  it('writes and reads every model', async () => {
    const p = db.prisma;
    const tenant = await p.tenant.create({ data: { id: 'ten_1', name: 'acme', webhookSecret: 'whsec_x' } });
    await p.apiKey.create({ data: { id: 'key_1', tenantId: tenant.id, keyHash: 'h', prefix: 'db_' } });
    const batch = await p.batch.create({
      data: {
        id: 'bat_1',
        tenantId: tenant.id,
        task: 'classification',
        model: 'spam-classifier@1',
        options: { top_k: 1 },
        metadata: { project: 'x' },
        completionWindow: '24h',
        expiresAt: new Date(Date.now() + 86_400_000),
        total: 2,
        queuedCount: 2,
      },
    });
    await p.document.createMany({
      data: [
        { batchId: batch.id, seq: 1, clientId: 'a', text: 'hello', metadata: { k: 1 } },
        { batchId: batch.id, seq: 2, clientId: 'b', text: 'world' },
      ],
    });
    await p.document.update({
      where: { batchId_seq: { batchId: batch.id, seq: 1 } },
      data: { status: 'completed', result: { label: 'ham' }, attempts: 1, finishedAt: new Date() },
    });
    const delivery = await p.webhookDelivery.create({
      data: {
        id: 'whd_1',
        batchId: batch.id,
        tenantId: tenant.id,
        eventType: 'batch.completed',
        url: 'https://x',
        payload: '{}',
      },
    });
    await p.webhookAttempt.create({
      data: { deliveryId: delivery.id, attempt: 1, statusCode: 200, latencyMs: 12 },
    });
    await p.idempotencyKey.create({
      data: { tenantId: tenant.id, key: 'k', requestHash: 'r', batchId: batch.id },
    });
    await p.usageDaily.create({
      data: {
        tenantId: tenant.id,
        day: new Date('2026-12-05T00:00:00Z'),
        task: 'classification',
        model: 'spam-classifier@1',
        batches: 1,
        documentsSubmitted: 2n,
        inputTokens: 9_007_199_254_740_993n,
      },
    });

    const read = await p.batch.findUniqueOrThrow({
      where: { id: batch.id },
      include: {
        documents: { orderBy: { seq: 'asc' } },
        webhookDeliveries: { include: { attemptLog: true } },
        tenant: { include: { apiKeys: true, idempotencyKeys: true } },
      },
    });
    expect(read.documents.map((d) => [d.clientId, d.status])).toEqual([
      ['a', 'completed'],
      ['b', 'queued'],
    ]);
    expect(read.webhookDeliveries[0]?.attemptLog[0]?.statusCode).toBe(200);
    expect(read.tenant.apiKeys).toHaveLength(1);
    expect(read.tenant.idempotencyKeys).toHaveLength(1);
    const usage = await p.usageDaily.findMany({ where: { tenantId: tenant.id } });
    expect(usage.map((u) => [u.day.toISOString(), u.batches, u.documentsSubmitted, u.inputTokens])).toEqual([
      ['2026-12-05T00:00:00.000Z', 1, 2n, 9_007_199_254_740_993n],
    ]);
    // The counts trigger followed the status change.
    expect([read.queuedCount, read.completedCount]).toEqual([1, 1]);
  });

  it('keeps batch counts equal to the rows through every status change', async () => {
    const p = db.prisma;
    await p.tenant.create({ data: { id: 'ten_2', name: 'counts', webhookSecret: 'whsec_y' } });
    await p.batch.create({
      data: {
        id: 'bat_2',
        tenantId: 'ten_2',
        task: 'classification',
        model: 'm@1',
        completionWindow: '1h',
        expiresAt: new Date(),
        total: 100,
        queuedCount: 100,
      },
    });
    await p.document.createMany({
      data: Array.from({ length: 100 }, (_, i) => ({
        batchId: 'bat_2',
        seq: i + 1,
        clientId: String(i + 1),
        text: 't',
      })),
    });
    await db.pool.query(`UPDATE documents SET status = 'running' WHERE batch_id = 'bat_2' AND seq <= 60`);
    await db.pool.query(`UPDATE documents SET status = 'completed' WHERE batch_id = 'bat_2' AND seq <= 30`);
    await db.pool.query(
      `UPDATE documents SET status = 'failed' WHERE batch_id = 'bat_2' AND seq BETWEEN 31 AND 35`,
    );
    await db.pool.query(
      `UPDATE documents SET status = 'cancelled' WHERE batch_id = 'bat_2' AND status = 'queued'`,
    );
    const b = await p.batch.findUniqueOrThrow({ where: { id: 'bat_2' } });
    const rows = await db.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM documents WHERE batch_id = 'bat_2' GROUP BY status`,
    );
    const actual = Object.fromEntries(rows.rows.map((r) => [r.status, r.n]));
    expect({
      queued: b.queuedCount,
      running: b.runningCount,
      completed: b.completedCount,
      failed: b.failedCount,
      cancelled: b.cancelledCount,
    }).toEqual({
      queued: 0,
      running: actual.running,
      completed: actual.completed,
      failed: actual.failed,
      cancelled: actual.cancelled,
    });
    expect(actual).toEqual({ running: 25, completed: 30, failed: 5, cancelled: 40 });
  });
});

describe('readiness', () => {
  it('answers 503 while Postgres or Redis is unreachable and 200 again when they return, without restart', async () => {
    const pgProxy = new TcpProxy('127.0.0.1', Number(new URL(env.databaseUrl).port || 5432));
    const redisProxy = new TcpProxy('127.0.0.1', Number(new URL(env.redisUrl).port || 6379));
    await pgProxy.start();
    await redisProxy.start();
    const dbUrl = new URL(env.databaseUrl);
    dbUrl.port = String(pgProxy.port);
    const config = loadConfig('api', {
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      QUEUE_PREFIX: env.queuePrefix,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const api = new ApiServer(config, createLogger('silent'));
    await api.start();
    const url = `http://127.0.0.1:${api.port}`;
    const status = async (): Promise<number> => (await fetch(`${url}/readyz`)).status;
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await waitFor(async () => (await status()) === 200, 'ready');

      await pgProxy.stop();
      await waitFor(async () => (await status()) === 503, '503 with Postgres down');
      const body = (await (await fetch(`${url}/readyz`)).json()) as { checks: { postgres: { ok: boolean } } };
      expect(body.checks.postgres.ok).toBe(false);
      await pgProxy.start();
      await waitFor(async () => (await status()) === 200, 'ready after Postgres returns');

      await redisProxy.stop();
      await waitFor(async () => (await status()) === 503, '503 with Redis down');
      await redisProxy.start();
      await waitFor(async () => (await status()) === 200, 'ready after Redis returns');

      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('docbatch_http_requests_total');
      expect(metrics).toContain('process_cpu_user_seconds_total');
      const missing = await fetch(`${url}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No such route.' } });
    } finally {
      await api.stop();
      await pgProxy.stop();
      await redisProxy.stop();
    }
  });
});
