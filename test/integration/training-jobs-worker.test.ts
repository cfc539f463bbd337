import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { DocBatchClient, verifyWebhook } from '@docbatch/sdk';
import { WorkerProcess } from '../../src/workers/worker-process';
import { loadUciSentences } from '../support/uci-sentences';
import { waitFor } from '../support/wait-for';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { TestReceiver } from './webhooks-receiver';
import type { ReceivedWebhook } from './webhooks-receiver';

/**
 * Training jobs end to end through HTTP with a real worker process (cpu backend): a small labelled
 * upload (300 of the UCI sentences) trains on the worker's `training` queue with progress on the
 * job, ends `succeeded` with one tenant model version and a signed `training_job.succeeded`
 * webhook; the same data and seed give the same weights (file hashes in storage); a running job is
 * cancelled through the API (`training_job.cancelled`, no model version).
 */

jest.setTimeout(240_000);

type Job = {
  id: string;
  status: string;
  model: string | null;
  model_name: string;
  progress: { epoch: number; epochs: number; loss: number; val_accuracy: number; eta_seconds: number } | null;
  metrics: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  backend: string | null;
  attempts: number;
  cancel_requested: boolean;
};

let h: ApiHarness;
let receiver: TestReceiver;
let worker: WorkerProcess;
let secret: string;

// 150 of each label, in a fixed order (alternating), so the upload is the same in every run.
const all = loadUciSentences();
const pos = all.filter((s) => s.label === 'positive').slice(0, 150);
const neg = all.filter((s) => s.label === 'negative').slice(0, 150);
const upload =
  pos
    .flatMap((p, i) => [p, neg[i]!])
    .map((s) => JSON.stringify({ text: s.text, label: s.label }))
    .join('\n') + '\n';
const small = encodeURIComponent(JSON.stringify({ epochs: 3, seed: 11, pretrained_words: 2000 }));

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  h = await startApi({ WEBHOOK_ALLOWLIST: '127.0.0.1/32' });
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'cpu',
      WORKER_TASKS: 'classification',
      WEBHOOK_ALLOWLIST: '127.0.0.1/32',
      WEBHOOK_RETRY_SCHEDULE: '0.2',
      WEBHOOK_RELAY_INTERVAL_MS: '100',
    }),
    createLogger('silent'),
  );
  await worker.start();
  secret = (
    await h.db.pool.query<{ webhook_secret: string }>('SELECT webhook_secret FROM tenants WHERE id = $1', [
      h.tenantId,
    ])
  ).rows[0]!.webhook_secret;
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await receiver?.stop();
  await h?.stop();
});

async function submit(query: string): Promise<Job> {
  const res = await h.request(`/v1/training_jobs?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: upload,
  });
  expect(res.status).toBe(201);
  return json<Job>(res);
}

async function get(id: string): Promise<Job> {
  return json<Job>(await h.request(`/v1/training_jobs/${id}`));
}

/** Polls the job until it ends; returns it and every progress seen on the way. */
async function untilEnded(id: string, timeoutMs = 180_000): Promise<{ job: Job; seen: Job['progress'][] }> {
  const seen: Job['progress'][] = [];
  const job = (await waitFor(
    async () => {
      const j = await get(id);
      if (j.progress && seen[seen.length - 1]?.epoch !== j.progress.epoch) seen.push(j.progress);
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    },
    `training job ${id} to end`,
    timeoutMs,
    200,
  )) as Job;
  return { job, seen };
}

async function fileHashes(modelId: string): Promise<Record<string, string>> {
  const [name, version] = modelId.split('@');
  const res = await h.db.pool.query<{ path: string; data: Buffer }>(
    `SELECT f.path, f.data FROM tenant_model_files f JOIN tenant_models m ON m.id = f.model_id
     WHERE m.tenant_id = $1 AND m.name = $2 AND m.version = $3 ORDER BY f.path`,
    [h.tenantId, name, Number(version)],
  );
  return Object.fromEntries(res.rows.map((r) => [r.path, createHash('sha256').update(r.data).digest('hex')]));
}

let first: Job;

it('trains on a worker with progress per epoch, stores one model version and sends a signed webhook', async () => {
  const started = Date.now();
  const created = await submit(
    `model=sent-small&hyperparameters=${small}&webhook_url=${encodeURIComponent(receiver.url('/ok'))}`,
  );
  const { job, seen } = await untilEnded(created.id);
  console.log(
    `training job (300 examples, 3 epochs, cpu) took ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  expect(job).toMatchObject({
    status: 'succeeded',
    model: 'sent-small@1',
    error: null,
    attempts: 1,
    backend: 'cpu',
  });
  expect(job.progress).toMatchObject({ epoch: 3, epochs: 3 });
  expect(seen.length).toBeGreaterThanOrEqual(1);
  for (const p of seen) {
    expect(p).toMatchObject({ epochs: 3 });
    expect(typeof p!.loss).toBe('number');
    expect(p!.val_accuracy).toBeGreaterThanOrEqual(0);
    expect(typeof p!.eta_seconds).toBe('number');
  }
  expect(job.metrics).toMatchObject({ train_size: expect.any(Number), validation_size: expect.any(Number) });
  first = job;

  const versions = await h.db.pool.query<{ name: string; version: number; source: string }>(
    'SELECT name, version, source FROM tenant_models WHERE training_job_id = $1',
    [job.id],
  );
  expect(versions.rows).toEqual([{ name: 'sent-small', version: 1, source: 'training' }]);

  const got = (await waitFor(() => receiver.at('/ok')[0], 'the webhook', 30_000)) as ReceivedWebhook;
  const event = verifyWebhook<{ type: string; data: { id: string; status: string; model: string } }>(
    secret,
    got.headers,
    got.body,
  );
  expect(event.type).toBe('training_job.succeeded');
  expect(event.data).toMatchObject({ id: job.id, status: 'succeeded', model: 'sent-small@1' });

  // The job's deliveries and their attempts, as for a batch's (GET /v1/training_jobs/{id}/webhook_deliveries).
  type Delivery = {
    id: string;
    training_job_id: string;
    event_type: string;
    status: string;
    attempts: unknown[];
  };
  const deliveries = async (key?: string): Promise<Response> =>
    h.request(`/v1/training_jobs/${job.id}/webhook_deliveries`, key ? { key } : {});
  const list = (await waitFor(
    async () => {
      const l = await json<{ object: string; data: Delivery[]; has_more: boolean }>(await deliveries());
      return l.data[0]?.status === 'succeeded' ? l : undefined;
    },
    'the delivery to be recorded',
    30_000,
  )) as { object: string; data: Delivery[]; has_more: boolean };
  expect(list).toMatchObject({ object: 'list', has_more: false });
  expect(list.data).toHaveLength(1);
  expect(list.data[0]).toMatchObject({
    id: got.headers['webhook-id'],
    object: 'webhook_delivery',
    training_job_id: job.id,
    event_type: 'training_job.succeeded',
    url: receiver.url('/ok'),
    status: 'succeeded',
    attempt_count: 1,
    payload: event,
    attempts: [expect.objectContaining({ attempt: 1, status_code: 200, error: null })],
  });
  expect(list.data[0]).not.toHaveProperty('batch_id');
  const sdk = new DocBatchClient({ baseUrl: h.url, apiKey: h.key });
  expect(await sdk.listTrainingJobWebhookDeliveries(job.id)).toEqual(list.data);
  // Another tenant's job and an unknown id are 404; an unknown query parameter is a 400.
  const other = await h.newTenant(`other-${Date.now()}`);
  expect((await deliveries(other.key)).status).toBe(404);
  expect((await h.request('/v1/training_jobs/tj_nope/webhook_deliveries')).status).toBe(404);
  expect((await h.request(`/v1/training_jobs/${job.id}/webhook_deliveries?x=1`)).status).toBe(400);
});

it('trains the same weights from the same data and seed (file hashes in storage)', async () => {
  const created = await submit(`model=sent-small&hyperparameters=${small}`);
  const { job } = await untilEnded(created.id);
  expect(job).toMatchObject({ status: 'succeeded', model: 'sent-small@2' });
  const a = await fileHashes(first.model as string);
  const b = await fileHashes(job.model as string);
  expect(Object.keys(a).length).toBeGreaterThanOrEqual(3);
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  // The card records the training time; every other file (weights, topology, tokenizer, config) is identical.
  const differing = Object.keys(a).filter((f) => a[f] !== b[f]);
  expect(differing.filter((f) => f !== 'card.md')).toEqual([]);
});

it('runs a batch in the same worker while a job trains, then cancels the job: cancelled, with its webhook and no model version', async () => {
  const long = encodeURIComponent(JSON.stringify({ epochs: 200, seed: 1, pretrained_words: 2000 }));
  const created = await submit(
    `model=never&hyperparameters=${long}&webhook_url=${encodeURIComponent(receiver.url('/cancel'))}`,
  );
  await waitFor(async () => (await get(created.id)).progress !== null, 'the first epoch', 120_000, 200);

  // While it trains (in its thread), the same worker process runs a batch: inference is not held up.
  const batchRes = await h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      task: 'classification',
      documents: Array.from({ length: 50 }, (_, i) => ({ text: `Win a free cruise now, offer ${i}!` })),
    }),
  });
  expect(batchRes.status).toBe(201);
  const batchId = (await json<{ id: string }>(batchRes)).id;
  const b0 = Date.now();
  await waitFor(
    async () =>
      (await json<{ status: string }>(await h.request(`/v1/batches/${batchId}`))).status === 'completed',
    'the batch to complete during training',
    60_000,
    100,
  );
  const batchMs = Date.now() - b0;
  const during = await get(created.id);
  expect(during.status).toBe('running');
  console.log(`a 50-document batch completed in ${batchMs} ms while epoch ${during.progress?.epoch} trained`);

  const res = await h.request(`/v1/training_jobs/${created.id}/cancel`, { method: 'POST' });
  expect(res.status).toBe(202);
  const asked = await json<Job>(res);
  expect(asked.status === 'cancelled' || asked.cancel_requested).toBe(true);
  const t0 = Date.now();
  const { job } = await untilEnded(created.id, 30_000);
  expect(job.status).toBe('cancelled');
  expect(job.model).toBeNull();
  expect(Date.now() - t0).toBeLessThan(15_000);
  const versions = await h.db.pool.query('SELECT 1 FROM tenant_models WHERE training_job_id = $1', [job.id]);
  expect(versions.rowCount).toBe(0);
  const got = (await waitFor(
    () => receiver.at('/cancel')[0],
    'the cancel webhook',
    30_000,
  )) as ReceivedWebhook;
  expect(verifyWebhook<{ type: string }>(secret, got.headers, got.body).type).toBe('training_job.cancelled');
  // Cancelling again is idempotent; the job stays cancelled.
  const again = await h.request(`/v1/training_jobs/${created.id}/cancel`, { method: 'POST' });
  expect(again.status).toBe(202);
});
