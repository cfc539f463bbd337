import { Queue } from 'bullmq';
import { Database } from '../../src/core/db/database';
import { newId } from '../../src/core/ids';
import { createLogger } from '../../src/core/logger';
import { writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { expireBatches } from '../../src/core/pipeline/expiry';
import { WEBHOOK_QUEUE } from '../../src/core/queue/catalog';
import { createRedis } from '../../src/core/redis';
import { createTenantWithKey } from '../../src/core/tenants';
import {
  claimDueDeliveries,
  INTERRUPTED_ERROR,
  listDeliveries,
  recoverInterruptedAttempts,
  redeliver,
} from '../../src/core/webhooks/delivery-store';
import { verifyWebhook } from '../../packages/sdk/src/webhook-signature';
import { WebhookSender } from '../../src/core/webhooks/webhook-sender';
import { WebhookRelay } from '../../src/workers/webhook-relay';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';
import { TestReceiver } from './webhooks-receiver';

/**
 * The outbox guarantees piece by piece, without a running worker: a duplicate job sends nothing,
 * a relayed row yields one job however often it is relayed, and redelivery of a delivery that
 * waits for a retry makes it due at once.
 */

let env: TestEnvironment;
let db: Database;
let receiver: TestReceiver;
let tenantId: string;
let sender: WebhookSender;
let secret: string;

beforeAll(async () => {
  env = await createTestEnvironment();
  db = new Database(env.databaseUrl, 6);
  receiver = new TestReceiver();
  await receiver.start();
  const t = await createTenantWithKey(db, 'sender');
  tenantId = t.tenant.id;
  secret = t.webhook_secret;
  sender = new WebhookSender(
    db.pool,
    { schedule: [3600], retryAfterMaxSec: 3600, timeoutMs: 2000, allowlist: ['127.0.0.1/32'] },
    createLogger('silent'),
  );
});

afterAll(async () => {
  await receiver?.stop();
  await db?.close();
  await env?.cleanup();
});

/** A batch of one queued document with a webhook_url (rows as the API writes them). */
async function queuedBatch(path: string, expiresAt = new Date(Date.now() + 86_400_000)): Promise<string> {
  const batchId = newId('bat');
  await db.prisma.batch.create({
    data: {
      id: batchId,
      tenantId,
      task: 'classification',
      model: 'spam-classifier@1',
      completionWindow: '24h',
      expiresAt,
      webhookUrl: receiver.url(path),
      total: 1,
      queuedCount: 1,
    },
  });
  await db.prisma.document.create({ data: { batchId, seq: 1, clientId: '1', text: 'x' } });
  return batchId;
}

/** A finished batch (through the pipeline's write-back) and its outbox delivery id. */
async function finishedBatch(path: string): Promise<{ batchId: string; deliveryId: string }> {
  const batchId = await queuedBatch(path);
  await writeOutcomes(db.pool, [{ batchId, seq: 1, result: { label: 'ham', score: 1, scores: { ham: 1 } } }]);
  const [d] = await listDeliveries(db.pool, batchId);
  return { batchId, deliveryId: d?.id as string };
}

describe('webhook outbox guarantees', () => {
  it('records batch.expired when the expiry sweep ends a batch past its window, and sends it', async () => {
    const batchId = await queuedBatch('/expired', new Date(Date.now() - 1000));
    await expireBatches(db.pool);
    const [d] = await listDeliveries(db.pool, batchId);
    expect(d).toMatchObject({ event_type: 'batch.expired', status: 'pending', attempts: 0 });
    expect((await sender.attempt(d!.id, 1)).kind).toBe('success');
    const [got] = receiver.at('/expired');
    expect(verifyWebhook(secret, got!.headers, got!.body)).toMatchObject({
      type: 'batch.expired',
      data: { id: batchId, status: 'expired', counts: { total: 1, expired: 1, queued: 0 } },
    });
    // A second sweep finalizes nothing more: one event per end state.
    await expireBatches(db.pool);
    expect(await listDeliveries(db.pool, batchId)).toHaveLength(1);
  });

  it('sends an attempt once even when its job runs twice at the same time', async () => {
    const { batchId, deliveryId } = await finishedBatch('/dup');
    const reports = await Promise.all([sender.attempt(deliveryId, 1), sender.attempt(deliveryId, 1)]);
    expect(reports.map((r) => r.kind).sort()).toEqual(['stale', 'success']);
    expect(receiver.at('/dup')).toHaveLength(1);
    // A late duplicate of a finished attempt sends nothing either.
    expect((await sender.attempt(deliveryId, 1)).kind).toBe('stale');
    expect((await sender.attempt(deliveryId, 2)).kind).toBe('stale');
    expect(receiver.at('/dup')).toHaveLength(1);
    const [d] = await listDeliveries(db.pool, batchId);
    expect(d?.attempt_log).toHaveLength(1);
  });

  it('relays a due row into exactly one job, however often it is relayed', async () => {
    const { deliveryId } = await finishedBatch('/relay');
    const redis = createRedis(env.redisUrl, 'client');
    const queue = new Queue(WEBHOOK_QUEUE, { connection: redis, prefix: env.queuePrefix });
    try {
      // A lease that has lapsed already, so the second pass claims the row again (as when a relay
      // died after claiming, or the job waited longer than the lease).
      const relay = new WebhookRelay(
        db.pool,
        queue,
        { intervalMs: 1000, maxAttemptsPerSeries: 2, leaseMs: -1000 },
        createLogger('silent'),
      );
      await relay.pass();
      await relay.pass();
      const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
      expect(jobs.map((j) => [j.id, j.data])).toEqual([[`${deliveryId}-a1`, { deliveryId, attempt: 1 }]]);
      // With a live lease the row is held: a second relay finds nothing to claim.
      expect(await claimDueDeliveries(db.pool, 100, 60_000)).toEqual([{ id: deliveryId, attempt: 1 }]);
      expect(await claimDueDeliveries(db.pool, 100, 60_000)).toEqual([]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  });

  it('a lost attempt whose hold has lapsed is logged as interrupted before the next one can be claimed', async () => {
    const { batchId, deliveryId } = await finishedBatch('/lost');
    // Attempt 1 started (its sender then died: no log row), and its hold has lapsed.
    await db.pool.query(
      `UPDATE webhook_deliveries SET attempts = 1, claimed_until = now() - interval '1 second' WHERE id = $1`,
      [deliveryId],
    );
    // A relay pass that claims before recovering (or races another relay's recovery) finds nothing.
    expect(await claimDueDeliveries(db.pool, 100, 60_000)).toEqual([]);
    expect(await recoverInterruptedAttempts(db.pool, 5)).toEqual({ recovered: [deliveryId], failed: [] });
    expect(await claimDueDeliveries(db.pool, 100, 60_000)).toEqual([{ id: deliveryId, attempt: 2 }]);
    const [d] = await listDeliveries(db.pool, batchId);
    expect(d?.attempt_log.map((a) => [a.attempt, a.error])).toEqual([[1, INTERRUPTED_ERROR]]);
  });

  it('redelivering a delivery that waits for its retry makes it due now, in the same series', async () => {
    receiver.on('/wait', (n) => (n === 1 ? { status: 500 } : { status: 200 }));
    const { batchId, deliveryId } = await finishedBatch('/wait');
    const first = await sender.attempt(deliveryId, 1);
    expect(first.next).toEqual({ status: 'pending', delayMs: 3_600_000 });
    // Not due: an attempt 2 job now would send nothing.
    expect((await sender.attempt(deliveryId, 2)).kind).toBe('stale');

    const row = await redeliver(db.pool, batchId, deliveryId);
    expect(row?.status).toBe('pending');
    expect(row?.series_base).toBe(0);
    expect(row?.next_attempt_at?.getTime()).toBeLessThanOrEqual(Date.now());
    const second = await sender.attempt(deliveryId, 2);
    expect(second).toMatchObject({ kind: 'success', statusCode: 200, next: { status: 'succeeded' } });
    expect(receiver.at('/wait').map((r) => r.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
  });

  it('a redelivered finished delivery starts a new series with the full schedule', async () => {
    receiver.on('/series', () => ({ status: 500 }));
    const { batchId, deliveryId } = await finishedBatch('/series');
    await sender.attempt(deliveryId, 1);
    await redeliver(db.pool, batchId, deliveryId); // pending, due now
    expect((await sender.attempt(deliveryId, 2)).next).toEqual({ status: 'failed' });
    const again = await redeliver(db.pool, batchId, deliveryId);
    expect(again).toMatchObject({ status: 'pending', attempts: 2, series_base: 2 });
    // Attempt 3 is the first of the new series: retried on the schedule, not failed.
    expect((await sender.attempt(deliveryId, 3)).next).toEqual({ status: 'pending', delayMs: 3_600_000 });
    expect(await redeliver(db.pool, batchId, 'whd_missing')).toBeNull();
  });
});
