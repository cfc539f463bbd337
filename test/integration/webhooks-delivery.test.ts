import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { registry } from '../../src/core/metrics';
import { failWholeBatch, writeOutcomes } from '../../src/core/pipeline/chunk-store';
import { rotateWebhookSecret } from '../../src/core/webhooks/secrets';
import { verifyWebhook, WebhookVerificationError } from '../../packages/sdk/src/webhook-signature';
import { WebhookWorker } from '../../src/workers/webhook-worker';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { TestReceiver } from './webhooks-receiver';
import { waitFor } from '../support/wait-for';

/**
 * Webhook delivery end to end: batches are created and ended through the API and the pipeline's
 * write-back; a real WebhookWorker (relay + BullMQ worker) sends to a real HTTP receiver on
 * 127.0.0.1, allow-listed in the test configuration; a compressed retry schedule (0.2 s).
 */

let h: ApiHarness;
let receiver: TestReceiver;
let worker: WebhookWorker;
let secret: string;

const workerConfig = (env: Record<string, string>) =>
  loadConfig('worker', {
    ...env,
    WEBHOOK_ALLOWLIST: '127.0.0.1/32',
    WEBHOOK_RETRY_SCHEDULE: '0.2,0.2,0.2',
    WEBHOOK_TIMEOUT_MS: '3000',
    WEBHOOK_RELAY_INTERVAL_MS: '50',
    WEBHOOK_RETRY_AFTER_MAX_S: '2',
  });

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  h = await startApi({ WEBHOOK_ALLOWLIST: '127.0.0.1/32' });
  const row = await h.db.pool.query<{ webhook_secret: string }>(
    'SELECT webhook_secret FROM tenants WHERE id = $1',
    [h.tenantId],
  );
  secret = row.rows[0]?.webhook_secret as string;
  worker = new WebhookWorker({
    pool: h.db.pool,
    config: workerConfig(h.env.env),
    logger: createLogger('silent'),
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await receiver?.stop();
  await h?.stop();
});

async function createBatch(path: string, key = h.key): Promise<{ id: string }> {
  const res = await h.request('/v1/batches', {
    key,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      task: 'classification',
      documents: [{ text: 'win a free prize now' }, { text: 'meeting moved to 3pm' }],
      webhook_url: receiver.url(path),
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

/** Finishes every document of a batch through the pipeline's write-back (which finalizes the batch). */
async function completeBatch(batchId: string): Promise<void> {
  await writeOutcomes(h.db.pool, [
    { batchId, seq: 1, result: { label: 'spam', score: 0.9, scores: { spam: 0.9, ham: 0.1 } } },
    { batchId, seq: 2, result: { label: 'ham', score: 0.8, scores: { spam: 0.2, ham: 0.8 } } },
  ]);
}

interface DeliveryList {
  data: {
    id: string;
    event_type: string;
    status: string;
    attempt_count: number;
    payload: unknown;
    attempts: { attempt: number; status_code: number | null; latency_ms: number; error: string | null }[];
  }[];
}

async function deliveries(batchId: string, key = h.key): Promise<DeliveryList['data']> {
  const res = await h.request(`/v1/batches/${batchId}/webhook_deliveries`, { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as DeliveryList).data;
}

async function settled(batchId: string): Promise<DeliveryList['data'][number]> {
  const d = await waitFor(async () => {
    const [x] = await deliveries(batchId);
    return x && x.status !== 'pending' ? x : null;
  }, `delivery of ${batchId} to settle`);
  return d as DeliveryList['data'][number];
}

describe('webhook delivery', () => {
  it('sends batch.completed once, signed so that the verify helper accepts it', async () => {
    const batch = await createBatch('/ok');
    await completeBatch(batch.id);
    const d = await settled(batch.id);
    expect(d.status).toBe('succeeded');
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]).toMatchObject({ attempt: 1, status_code: 200, error: null });

    const [got] = receiver.at('/ok');
    expect(receiver.at('/ok')).toHaveLength(1);
    expect(got?.headers['webhook-id']).toBe(d.id);
    expect(got?.headers['content-type']).toBe('application/json');
    const payload = verifyWebhook<{ type: string; data: { id: string; status: string; counts: object } }>(
      secret,
      got?.headers ?? {},
      got?.body ?? '',
    );
    expect(payload.type).toBe('batch.completed');
    expect(payload.data).toMatchObject({
      id: batch.id,
      status: 'completed',
      counts: { total: 2, completed: 2, queued: 0, running: 0, failed: 0, cancelled: 0, expired: 0 },
    });
    expect(d.payload).toEqual(payload);
    // A wrong secret or a tampered body does not verify.
    expect(() =>
      verifyWebhook('whsec_' + Buffer.from('wrong').toString('base64'), got!.headers, got!.body),
    ).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(secret, got!.headers, got!.body.replace('completed', 'failed'))).toThrow(
      WebhookVerificationError,
    );
  });

  it('retries a receiver that fails twice, then succeeds: exactly three attempts with one webhook-id', async () => {
    receiver.on('/flaky', (n) => (n <= 2 ? { status: n === 1 ? 500 : 429 } : { status: 204 }));
    const batch = await createBatch('/flaky');
    await completeBatch(batch.id);
    const d = await settled(batch.id);
    expect(d.status).toBe('succeeded');
    expect(d.attempts.map((a) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 429, 'HTTP 429'],
      [3, 204, null],
    ]);
    const got = receiver.at('/flaky');
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([d.id]));
    // Every attempt is signed afresh and verifies; the body is byte-identical across retries.
    for (const r of got) verifyWebhook(secret, r.headers, r.body);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    // The retries waited for the schedule (0.2 s).
    expect((got[1]?.at ?? 0) - (got[0]?.at ?? 0)).toBeGreaterThanOrEqual(150);
  });

  it('stops at 410 Gone', async () => {
    receiver.on('/gone', () => ({ status: 410 }));
    const batch = await createBatch('/gone');
    await completeBatch(batch.id);
    const d = await settled(batch.id);
    expect(d.status).toBe('failed');
    expect(d.attempts.map((a) => a.status_code)).toEqual([410]);
    expect(receiver.at('/gone')).toHaveLength(1);
  });

  it('marks the delivery failed after the last attempt of the schedule', async () => {
    receiver.on('/down', () => ({ status: 503 }));
    const batch = await createBatch('/down');
    await failWholeBatch(h.db.pool, batch.id, { code: 'MODEL_LOAD_FAILED', message: 'model could not load' });
    const d = await settled(batch.id);
    expect(d.event_type).toBe('batch.failed');
    expect(d.status).toBe('failed');
    // First attempt + one per schedule entry.
    expect(d.attempts.map((a) => a.status_code)).toEqual([503, 503, 503, 503]);
    expect(receiver.at('/down')).toHaveLength(4);
  });

  it('does not follow a redirect (to a private host): it is a failed attempt, retried', async () => {
    // 127.0.0.2 is loopback but outside the allow-list (127.0.0.1/32).
    const privateTarget = new TestReceiver('127.0.0.2');
    await privateTarget.start();
    try {
      receiver.on('/redirect', (n) =>
        n === 1 ? { status: 302, headers: { location: privateTarget.url('/internal') } } : { status: 200 },
      );
      const batch = await createBatch('/redirect');
      await completeBatch(batch.id);
      const d = await settled(batch.id);
      expect(d.status).toBe('succeeded');
      expect(d.attempts.map((a) => [a.status_code, a.error])).toEqual([
        [302, 'redirect (302) not followed'],
        [200, null],
      ]);
      expect(privateTarget.received).toHaveLength(0);
    } finally {
      await privateTarget.stop();
    }
  });

  it('records a timeout as a failed attempt and honours Retry-After (capped)', async () => {
    receiver.on('/slow', (n) =>
      n === 1
        ? { status: 0, hang: true }
        : n === 2
          ? { status: 503, headers: { 'retry-after': '1' } }
          : { status: 200 },
    );
    const batch = await createBatch('/slow');
    await completeBatch(batch.id);
    const d = await settled(batch.id);
    expect(d.status).toBe('succeeded');
    expect(d.attempts.map((a) => [a.status_code, a.error])).toEqual([
      [null, 'timed out after 3000 ms'],
      [503, 'HTTP 503'],
      [200, null],
    ]);
    expect(d.attempts[0]?.latency_ms).toBeGreaterThanOrEqual(2900);
    const got = receiver.at('/slow');
    // Retry-After: 1 s beat the 0.2 s schedule.
    expect((got[2]?.at ?? 0) - (got[1]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('sends batch.cancelled when a batch is cancelled through the API', async () => {
    const batch = await createBatch('/cancelled');
    const res = await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    const d = await settled(batch.id);
    expect(d.event_type).toBe('batch.cancelled');
    const [got] = receiver.at('/cancelled');
    const payload = verifyWebhook<{ type: string; data: { status: string } }>(
      secret,
      got!.headers,
      got!.body,
    );
    expect(payload).toMatchObject({ type: 'batch.cancelled', data: { status: 'cancelled' } });
  });

  it('signs with the old and the new secret during a rotation grace period', async () => {
    const rotated = await rotateWebhookSecret(h.db.pool, h.tenantId, 1);
    try {
      expect(rotated.webhookSecret).toMatch(/^whsec_/);
      const batch = await createBatch('/rotated');
      await completeBatch(batch.id);
      await settled(batch.id);
      const [got] = receiver.at('/rotated');
      expect(String(got?.headers['webhook-signature']).split(' ')).toHaveLength(2);
      // Receivers with either secret verify.
      verifyWebhook(secret, got!.headers, got!.body);
      verifyWebhook(rotated.webhookSecret, got!.headers, got!.body);

      // Without a grace period only the new secret signs.
      const again = await rotateWebhookSecret(h.db.pool, h.tenantId, 0);
      const batch2 = await createBatch('/rotated-2');
      await completeBatch(batch2.id);
      await settled(batch2.id);
      const [got2] = receiver.at('/rotated-2');
      expect(String(got2?.headers['webhook-signature']).split(' ')).toHaveLength(1);
      verifyWebhook(again.webhookSecret, got2!.headers, got2!.body);
      expect(() => verifyWebhook(rotated.webhookSecret, got2!.headers, got2!.body)).toThrow(
        WebhookVerificationError,
      );
      secret = again.webhookSecret;
    } finally {
      const row = await h.db.pool.query<{ webhook_secret: string }>(
        'SELECT webhook_secret FROM tenants WHERE id = $1',
        [h.tenantId],
      );
      secret = row.rows[0]?.webhook_secret as string;
    }
  });

  it('refuses at connect time an address the worker does not allow, without sending', async () => {
    // The API allow-lists 127.0.0.1; this worker allows nothing.
    const strict = new WebhookWorker({
      pool: h.db.pool,
      config: { ...workerConfig(h.env.env), WEBHOOK_ALLOWLIST: [] },
      logger: createLogger('silent'),
    });
    await worker.stop();
    await strict.start();
    try {
      const batch = await createBatch('/strict');
      await completeBatch(batch.id);
      const d = await settled(batch.id);
      expect(d.status).toBe('failed');
      expect(d.attempts).toHaveLength(1);
      expect(d.attempts[0]?.status_code).toBeNull();
      expect(d.attempts[0]?.error).toMatch(/^refused: .*loopback/);
      expect(receiver.at('/strict')).toHaveLength(0);
    } finally {
      await strict.stop();
      worker = new WebhookWorker({
        pool: h.db.pool,
        config: workerConfig(h.env.env),
        logger: createLogger('silent'),
      });
      await worker.start();
    }
  });
});

describe('webhook delivery routes', () => {
  it('lists deliveries only to the owning tenant (404 otherwise)', async () => {
    const batch = await createBatch('/owned');
    await completeBatch(batch.id);
    await settled(batch.id);
    const other = await h.newTenant('other-tenant');
    const res = await h.request(`/v1/batches/${batch.id}/webhook_deliveries`, { key: other.key });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const [d] = await deliveries(batch.id);
    const redeliver = await h.request(`/v1/batches/${batch.id}/webhook_deliveries/${d!.id}/redeliver`, {
      method: 'POST',
      key: other.key,
    });
    expect(redeliver.status).toBe(404);
    const unauth = await h.request(`/v1/batches/${batch.id}/webhook_deliveries`, { key: null });
    expect(unauth.status).toBe(401);
  });

  it('redelivers with the same webhook-id as a new attempt series', async () => {
    receiver.on('/redeliver', () => ({ status: 410 }));
    const batch = await createBatch('/redeliver');
    await completeBatch(batch.id);
    const first = await settled(batch.id);
    expect(first.status).toBe('failed');

    receiver.on('/redeliver', () => ({ status: 200 }));
    const res = await h.request(`/v1/batches/${batch.id}/webhook_deliveries/${first.id}/redeliver`, {
      method: 'POST',
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { status: string }).status).toBe('pending');
    const d = (await waitFor(async () => {
      const [x] = await deliveries(batch.id);
      return x?.status === 'succeeded' ? x : null;
    }, 'redelivery')) as DeliveryList['data'][number];
    expect(d.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 410],
      [2, 200],
    ]);
    const got = receiver.at('/redeliver');
    expect(got).toHaveLength(2);
    expect(got.map((r) => r.headers['webhook-id'])).toEqual([first.id, first.id]);
    expect(got[0]?.body).toBe(got[1]?.body);

    const missing = await h.request(`/v1/batches/${batch.id}/webhook_deliveries/whd_nope/redeliver`, {
      method: 'POST',
    });
    expect(missing.status).toBe(404);
  });

  it('a batch without webhook_url has no deliveries', async () => {
    const res = await h.request('/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'classification', documents: [{ text: 'a' }, { text: 'b' }] }),
    });
    const batch = (await res.json()) as { id: string };
    await completeBatch(batch.id);
    expect(await deliveries(batch.id)).toEqual([]);
  });

  it('counts deliveries by outcome and attempt latency in the metrics registry', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/docbatch_webhook_deliveries_total\{outcome="succeeded"\} [1-9]/);
    expect(text).toMatch(/docbatch_webhook_deliveries_total\{outcome="failed"\} [1-9]/);
    expect(text).toMatch(/docbatch_webhook_attempt_duration_seconds_count\{result="success"\} [1-9]/);
    expect(text).toMatch(/docbatch_webhook_attempts_total\{result="timeout"\} 1/);
  });
});
