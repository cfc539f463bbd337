import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import { createLogger } from '../../src/core/logger';
import { WebhookWorker } from '../../src/workers/webhook-worker';
import { TcpProxy } from '../support/tcp-proxy';
import { newId } from '../../src/core/ids';
import { writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { createTenantWithKey } from '../../src/core/tenants';
import { INTERRUPTED_ERROR, listDeliveries } from '../../src/core/webhooks/delivery-store';
import type { DeliveryWithAttempts } from '../../src/core/webhooks/delivery-store';
import { verifyWebhook } from '../../packages/sdk/src/webhook-signature';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { waitFor } from '../support/wait-for';
import { TestReceiver } from './webhooks-receiver';

/**
 * Crash recovery of webhook delivery, with the webhook worker in a child process that is killed
 * with SIGKILL: an outbox row written while no worker runs is sent when one starts, and an
 * attempt cut off mid-request is retried (same webhook-id) by the next worker.
 */

const ROOT = path.resolve(__dirname, '../..');

/** Starts a WebhookWorker in a child process (TypeScript compiled on the fly by @swc/core). */
const CHILD = `
const fs = require('node:fs');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
Module._extensions['.ts'] = (m, f) => m._compile(transformSync(fs.readFileSync(f, 'utf8'), {
  filename: f, module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
}).code, f);
require('./scripts/workspace-sources').register();
const { Pool } = require('pg');
const { loadConfig } = require('./src/core/config');
const { createLogger } = require('./src/core/logger');
const { WebhookWorker } = require('./src/workers/webhook-worker');
const config = loadConfig('worker');
const pool = new Pool({ connectionString: config.DATABASE_URL, max: 2 });
pool.on('error', () => undefined);
const worker = new WebhookWorker({ pool, config, logger: createLogger('silent'),
  sender: { holdMarginMs: 300 }, lockDurationMs: 1000 });
worker.start().then(() => process.send('ready'));
`;

let env: TestEnvironment;
let db: Database;
let receiver: TestReceiver;
let tenantId: string;
let secret: string;
const children = new Set<ChildProcess>();

function startChild(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', CHILD], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env.env,
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_RETRY_SCHEDULE: '0.2,0.2,0.2',
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_RELAY_INTERVAL_MS: '50',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`webhook worker child exited (${code})`)));
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A batch of two queued documents with a webhook_url (rows as the API writes them). */
async function createBatch(url: string): Promise<string> {
  const id = newId('bat');
  await db.prisma.batch.create({
    data: {
      id,
      tenantId,
      task: 'classification',
      model: 'spam-classifier@1',
      completionWindow: '24h',
      expiresAt: new Date(Date.now() + 86_400_000),
      webhookUrl: url,
      total: 2,
      queuedCount: 2,
    },
  });
  await db.prisma.document.createMany({
    data: [
      { batchId: id, seq: 1, clientId: '1', text: 'a' },
      { batchId: id, seq: 2, clientId: '2', text: 'b' },
    ],
  });
  return id;
}

/** The pipeline's write-back finishes both documents and finalizes the batch (outbox row). */
async function complete(batchId: string): Promise<void> {
  await writeOutcomes(db.pool, [
    { batchId, seq: 1, result: { label: 'ham', score: 1, scores: { ham: 1 } } },
    { batchId, seq: 2, result: { label: 'ham', score: 1, scores: { ham: 1 } } },
  ]);
}

async function succeeded(batchId: string): Promise<DeliveryWithAttempts> {
  return waitFor(
    async () => {
      const [x] = await listDeliveries(db.pool, batchId);
      return x?.status === 'succeeded' ? x : undefined;
    },
    `delivery of ${batchId}`,
    20_000,
  ) as Promise<DeliveryWithAttempts>;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  db = new Database(env.databaseUrl, 4);
  receiver = new TestReceiver();
  await receiver.start();
  const t = await createTenantWithKey(db, 'crash');
  tenantId = t.tenant.id;
  secret = t.webhook_secret;
});

afterAll(async () => {
  await Promise.all([...children].map(kill9));
  await receiver?.stop();
  await db?.close();
  await env?.cleanup();
});

describe('webhook delivery across worker crashes', () => {
  it('sends a delivery recorded while no worker ran, once a worker starts', async () => {
    const batchId = await createBatch(receiver.url('/late'));
    await complete(batchId);
    const [pending] = await listDeliveries(db.pool, batchId);
    expect(pending?.status).toBe('pending');

    const child = await startChild();
    try {
      const d = await succeeded(batchId);
      expect(receiver.at('/late')).toHaveLength(1);
      expect(receiver.at('/late')[0]?.headers['webhook-id']).toBe(d.id);
    } finally {
      await kill9(child);
    }
  });

  it('keeps relaying after Postgres was unreachable for the worker', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5432);
    await proxy.start();
    const u = new URL(env.databaseUrl);
    u.port = String(proxy.port);
    const workerDb = new Database(u.toString(), 2);
    const worker = new WebhookWorker({
      pool: workerDb.pool,
      config: loadConfig('worker', {
        ...env.env,
        WEBHOOK_ALLOWLIST: '127.0.0.1/32',
        WEBHOOK_RELAY_INTERVAL_MS: '50',
      }),
      logger: createLogger('silent'),
    });
    await worker.start();
    try {
      await proxy.stop(); // Postgres "goes down" for the worker only
      await waitFor(
        () =>
          workerDb.pool.query('SELECT 1').then(
            () => false,
            () => true,
          ),
        'Postgres to be unreachable for the worker',
      );
      const batchId = await createBatch(receiver.url('/outage'));
      await complete(batchId);
      await proxy.start(); // and comes back on the same port
      const d = await succeeded(batchId);
      expect(receiver.at('/outage')).toHaveLength(1);
      expect(d.attempt_log.map((a) => a.status_code)).toEqual([200]);
    } finally {
      await worker.stop();
      await workerDb.close();
      await proxy.stop();
    }
  });

  it('retries an attempt cut off by kill -9 with the same webhook-id after a restart', async () => {
    // The first request never gets an answer: the worker is killed while it waits.
    receiver.on('/killed', (n) => (n === 1 ? { status: 0, hang: true } : { status: 200 }));
    const first = await startChild();
    const batchId = await createBatch(receiver.url('/killed'));
    await complete(batchId);
    await waitFor(() => receiver.at('/killed').length === 1, 'first attempt to arrive');
    await kill9(first);

    const second = await startChild();
    try {
      const d = await succeeded(batchId);
      expect(d.attempt_log.map((a) => [a.attempt, a.status_code, a.error])).toEqual([
        [1, null, INTERRUPTED_ERROR],
        [2, 200, null],
      ]);
      const got = receiver.at('/killed');
      expect(got).toHaveLength(2);
      expect(got.map((r) => r.headers['webhook-id'])).toEqual([d.id, d.id]);
      for (const r of got) verifyWebhook(secret, r.headers, r.body);
    } finally {
      await kill9(second);
    }
  });
});
