import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { DocBatchClient, verifyWebhook } from '@docbatch/sdk';
import { WorkerProcess } from '../../src/workers/worker-process';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { TestReceiver } from './webhooks-receiver';
import type { ReceivedWebhook } from './webhooks-receiver';
import { waitFor } from '../support/wait-for';

/**
 * The whole product path: a client submits a batch with a webhook_url over HTTP, the real worker
 * process classifies the documents with the bundled model, the batch completes, and the worker's
 * webhook relay and sender POST the signed event, which the SDK's verifyWebhook accepts.
 */

let h: ApiHarness;
let receiver: TestReceiver;
let worker: WorkerProcess;

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  h = await startApi({ WEBHOOK_ALLOWLIST: '127.0.0.1/32' });
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'wasm',
      WORKER_TASKS: 'classification',
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_RETRY_SCHEDULE: '0.2',
      WEBHOOK_RELAY_INTERVAL_MS: '100',
    }),
    createLogger('silent'),
  );
  await worker.start();
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await receiver?.stop();
  await h?.stop();
});

it('POSTs a signed batch.completed to the webhook_url when the worker finishes the batch', async () => {
  const res = await h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      task: 'classification',
      documents: [
        { id: 'a', text: 'Congratulations! You have won a free cruise, click here to claim your prize now' },
        { id: 'b', text: 'Hi team, the quarterly review meeting is moved to Thursday at 3pm.' },
        { id: 'c', text: 'Cheap meds online, no prescription needed, order today' },
      ],
      webhook_url: receiver.url('/e2e'),
    }),
  });
  expect(res.status).toBe(201);
  const batch = (await res.json()) as { id: string };

  const got = (await waitFor(() => receiver.at('/e2e')[0], 'webhook', 60_000)) as ReceivedWebhook;
  const secret = (
    await h.db.pool.query<{ webhook_secret: string }>('SELECT webhook_secret FROM tenants WHERE id = $1', [
      h.tenantId,
    ])
  ).rows[0]?.webhook_secret as string;
  const event = verifyWebhook<{
    type: string;
    data: { id: string; status: string; counts: Record<string, number> };
  }>(secret, got.headers, got.body);
  expect(event.type).toBe('batch.completed');
  expect(event.data.id).toBe(batch.id);
  expect(event.data.counts).toMatchObject({ total: 3, completed: 3, queued: 0, running: 0 });

  // The batch object agrees, and the delivery log shows one successful attempt.
  const b = (await (await h.request(`/v1/batches/${batch.id}`)).json()) as { status: string };
  expect(b.status).toBe('completed');
  type Log = { data: { id: string; status: string; attempts: { status_code: number }[] }[] };
  const delivery = await (waitFor(async () => {
    const l = (await (await h.request(`/v1/batches/${batch.id}/webhook_deliveries`)).json()) as Log;
    return l.data[0]?.status === 'succeeded' ? l.data[0] : undefined;
  }, 'delivery log') as Promise<Log['data'][number]>);
  expect(delivery.id).toBe(got.headers['webhook-id']);
  expect(delivery.attempts.map((a) => a.status_code)).toEqual([200]);
  expect(receiver.at('/e2e')).toHaveLength(1);

  // The SDK reads the same log, and redelivers: the same webhook-id and body arrive again, as attempt 2.
  const sdk = new DocBatchClient({ baseUrl: h.url, apiKey: h.key });
  const [viaSdk] = await sdk.listWebhookDeliveries(batch.id);
  expect(viaSdk).toMatchObject({
    id: delivery.id,
    batch_id: batch.id,
    status: 'succeeded',
    attempt_count: 1,
  });
  const again = await sdk.redeliverWebhook(batch.id, delivery.id);
  expect(again).toMatchObject({ id: delivery.id, status: 'pending' });
  const second = (await waitFor(() => receiver.at('/e2e')[1], 'the redelivery', 60_000)) as ReceivedWebhook;
  expect(second.headers['webhook-id']).toBe(delivery.id);
  expect(second.body).toBe(got.body);
  const after = await waitFor(async () => {
    const [d] = await sdk.listWebhookDeliveries(batch.id);
    return d?.status === 'succeeded' && d.attempt_count === 2 ? d : undefined;
  }, 'the second attempt to be recorded');
  expect(after?.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
    [1, 200],
    [2, 200],
  ]);
  await expect(sdk.listWebhookDeliveries('bat_nope')).rejects.toMatchObject({
    code: 'NOT_FOUND',
    status: 404,
  });
});
