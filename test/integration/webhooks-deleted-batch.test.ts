import { deleteBatch } from '../../src/core/batches';
import type { BatchDeps } from '../../src/core/batches';
import { createLogger } from '../../src/core/logger';
import { beginAttempt } from '../../src/core/webhooks/delivery-store';
import { json, ndjson, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * A batch marked deleted whose rows are not purged yet (no worker runs here) sends no more webhook
 * attempts: the sender's last gate (beginAttempt) refuses its pending deliveries.
 */

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h?.stop();
});

async function cancelledBatchWithDueDelivery(deliveryId: string): Promise<string> {
  const res = await h.request('/v1/batches?task=summarization', {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ndjson(2),
  });
  const id = (await json<{ id: string }>(res)).id;
  await h.request(`/v1/batches/${id}/cancel`, { method: 'POST' });
  await h.db.pool.query(
    `INSERT INTO webhook_deliveries (id, batch_id, tenant_id, event_type, url, payload, status, next_attempt_at)
     VALUES ($1, $2, $3, 'batch.cancelled', 'https://example.com/hook', '{}', 'pending', now() - interval '1 second')`,
    [deliveryId, id, h.tenantId],
  );
  return id;
}

it('refuses attempts of deliveries whose batch is being deleted, and only those', async () => {
  await cancelledBatchWithDueDelivery('whd_kept');
  const deleted = await cancelledBatchWithDueDelivery('whd_deleted');
  const deps = { db: h.db, logger: createLogger('silent') } as unknown as BatchDeps;
  // Marked deleted, rows left for the maintenance loop (which does not run here).
  await deleteBatch(deps, h.tenantId, deleted, { inlineBudgetMs: 0 });
  const left = await h.db.pool.query('SELECT 1 FROM webhook_deliveries WHERE id = $1', ['whd_deleted']);
  expect(left.rowCount).toBe(1);

  expect(await beginAttempt(h.db.pool, 'whd_deleted', 1, 10_000)).toBeNull();
  expect(await beginAttempt(h.db.pool, 'whd_kept', 1, 10_000)).toMatchObject({ id: 'whd_kept', attempt: 1 });
});
