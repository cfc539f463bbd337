import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { initTfBackend } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import { chunkRetries } from '../../src/core/pipeline/pipeline-metrics';
import { chunkQueueName } from '../../src/core/queue/catalog';
import { createRedis } from '../../src/core/redis';
import { WorkerProcess } from '../../src/workers/worker-process';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { writeRunFailingClassifier, writeWorkingClassifier } from './model-failure-fixtures';
import { batchState, waitForBatchEnd } from './pipeline-fixtures';

/**
 * A batch whose model cannot run or cannot load ends `failed` within seconds, with the cause on
 * the batch and on every document, and is not retried (docs/pipeline.md, "Guarantees"). Through the
 * real HTTP API and an in-process worker (its inference and tokenizer threads) on the wasm backend.
 */

jest.setTimeout(180_000);

let h: ApiHarness;
let worker: WorkerProcess;
let modelsDir: string;
let redis: Redis;
let queue: Queue;

/** Two-to-five word texts of the fixtures' vocabulary (never a single known word). */
const WORDS = ['good', 'great', 'bad', 'awful', 'movie', 'plot'];
function texts(n: number): { id: string; text: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `d${i + 1}`,
    text: Array.from({ length: 2 + (i % 4) }, (_, j) => WORDS[(i + j) % WORDS.length]).join(' '),
  }));
}

async function submit(model: string, docs: { id: string; text: string }[]): Promise<string> {
  const res = await h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task: 'classification', model, documents: docs }),
  });
  const body = await json<{ id: string; error?: unknown }>(res);
  if (res.status !== 201) throw new Error(`submit ${model}: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

async function retries(): Promise<number> {
  const m = await chunkRetries.get();
  return m.values.filter((v) => v.labels.task === 'classification').reduce((n, v) => n + v.value, 0);
}

/** Chunk jobs left in the queue in any state but completed (a retry would be `delayed`). */
async function leftoverJobs(): Promise<number> {
  return (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'failed'])).length;
}

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'docbatch-broken-models-'));
  await writeRunFailingClassifier(modelsDir, 'reshape-broken');
  await writeRunFailingClassifier(modelsDir, 'reshape-some');
  await writeWorkingClassifier(modelsDir, 'loses-weights');
  await writeWorkingClassifier(modelsDir, 'works');
  h = await startApi({ MODELS_DIR: modelsDir });
  // The API (in this process) opens and checks every classifier of the repository when it first
  // lists it; the tests below switch this process's tfjs backend, so let those checks finish first
  // (a check that runs while tf.setBackend() is under way fails, and its model is not served).
  expect((await h.request('/v1/models')).status).toBe(200);
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      MODELS_DIR: modelsDir,
      TF_BACKEND: 'wasm',
      WORKER_TASKS: 'classification',
      CHUNK_SIZE: '256',
      CHUNK_ATTEMPTS: '5',
      DB_POOL_SIZE: '6',
      WORKER_METRICS_PORT: '0',
    }),
    createLogger('silent'),
  );
  await worker.start();
  redis = createRedis(h.env.redisUrl, 'client');
  queue = new Queue(chunkQueueName('classification'), { connection: redis, prefix: h.env.queuePrefix });
});

afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  redis?.disconnect();
  await h?.stop();
  rmSync(modelsDir, { recursive: true, force: true });
});

describe('the fixture', () => {
  it.each(['wasm', 'cpu'] as const)('loads, then throws when it runs on the %s backend', async (backend) => {
    await initTfBackend(backend);
    const registry = new ModelRegistry({ modelsDir });
    try {
      const model = await registry.load(await registry.resolve('classification', 'reshape-broken'));
      const docs = ['good movie', 'bad plot awful'].map((t) => model.encode(t, {}));
      await expect(model.runBatch(docs, {})).rejects.toThrow('Total size of new array must be unchanged');
      // One known word fits the Reshape (what a load-time probe with one padding id sees).
      await expect(model.runBatch([model.encode('good', {})], {})).resolves.toHaveLength(1);
    } finally {
      await registry.disposeAll();
    }
  });
});

describe('a model that loads but fails when it runs', () => {
  it('fails its batch MODEL_INCOMPATIBLE within seconds, without a retry; every document carries the cause', async () => {
    const before = await retries();
    const started = Date.now();
    const id = await submit('reshape-broken', texts(600)); // three chunks
    const end = await waitForBatchEnd(h.db, id, 60_000);
    const seconds = (Date.now() - started) / 1000;
    expect(end.status).toBe('failed');
    expect(end.error).toEqual({
      code: 'MODEL_INCOMPATIBLE',
      message: "model 'reshape-broken@1' failed when it ran: Total size of new array must be unchanged.",
    });
    expect(seconds).toBeLessThan(15);
    expect(end.counts).toEqual(end.rows);
    expect(end.rows.failed).toBe(600);

    // Not retried: no retry counted, no job left to retry, no document claimed twice.
    expect(await retries()).toBe(before);
    expect(await leftoverJobs()).toBe(0);
    const docs = await h.db.pool.query<{ attempts: number; error: unknown; n: number }>(
      `SELECT attempts, error, count(*)::int AS n FROM documents WHERE batch_id = $1 GROUP BY 1, 2`,
      [id],
    );
    expect(Math.max(...docs.rows.map((r) => r.attempts))).toBeLessThanOrEqual(1);
    expect(new Set(docs.rows.map((r) => JSON.stringify(r.error)))).toEqual(
      new Set([JSON.stringify(end.error)]),
    );

    // The API: the batch, one document, and the results stream.
    const batch = await json<{ status: string; error: unknown }>(await h.request(`/v1/batches/${id}`));
    expect(batch).toMatchObject({ status: 'failed', error: end.error });
    const doc = await json(await h.request(`/v1/batches/${id}/documents/d17`));
    expect(doc).toMatchObject({ id: 'd17', status: 'failed', result: null, error: end.error });
    const lines = (await (await h.request(`/v1/batches/${id}/results`)).text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; status: string; error: unknown });
    expect(lines).toHaveLength(600);
    expect(
      lines.every((l) => l.status === 'failed' && JSON.stringify(l.error) === JSON.stringify(end.error)),
    ).toBe(true);
  });

  it('fails only the documents it cannot run when it runs others (the batch completes)', async () => {
    // One known word runs through this model; two or more do not.
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `m${i + 1}`,
      text: i % 2 === 0 ? WORDS[i % WORDS.length]! : `${WORDS[i % WORDS.length]!} movie`,
    }));
    const id = await submit('reshape-some', docs);
    const end = await waitForBatchEnd(h.db, id, 60_000);
    expect(end.status).toBe('completed');
    expect(end.rows).toMatchObject({ completed: 20, failed: 20 });
    const failed = await h.db.pool.query<{ client_id: string; error: unknown }>(
      `SELECT client_id, error FROM documents WHERE batch_id = $1 AND status = 'failed' ORDER BY seq`,
      [id],
    );
    expect(failed.rows.map((r) => r.client_id)).toEqual(docs.filter((_, i) => i % 2 === 1).map((d) => d.id));
    expect(failed.rows[0]!.error).toEqual({
      code: 'MODEL_INCOMPATIBLE',
      message: "model 'reshape-some@1' failed on this document: Total size of new array must be unchanged.",
    });
  });
});

describe('a model whose files break after the API accepted it', () => {
  it('fails its batch MODEL_LOAD_FAILED within seconds, without a retry', async () => {
    // Every registry has listed the model while its files were whole: the API's, and the worker
    // threads' (a batch on another model of the repository made them read it).
    const warm = await submit('works', texts(3));
    expect((await waitForBatchEnd(h.db, warm, 60_000)).status).toBe('completed');

    const before = await retries();
    await queue.pause(); // the worker takes no chunk until the files are broken
    const id = await submit('loses-weights', texts(300));
    unlinkSync(path.join(modelsDir, 'loses-weights', '1', 'weights.bin'));
    const started = Date.now();
    await queue.resume();
    const end = await waitForBatchEnd(h.db, id, 60_000);
    expect((Date.now() - started) / 1000).toBeLessThan(15);
    expect(end.status).toBe('failed');
    expect(end.error).toEqual({
      code: 'MODEL_LOAD_FAILED',
      message: expect.stringMatching(/^model 'loses-weights(@1)?' could not be loaded: .*weights\.bin/),
    });
    expect((end.error as { message: string }).message.length).toBeLessThanOrEqual(500);
    expect(end.counts).toEqual(end.rows);
    expect(end.rows.failed).toBe(300);
    expect(await retries()).toBe(before);
    expect(await leftoverJobs()).toBe(0);
    const doc = await json(await h.request(`/v1/batches/${id}/documents/d1`));
    expect(doc).toMatchObject({ status: 'failed', error: end.error });
    expect(await batchState(h.db, id)).toMatchObject({ status: 'failed' });
  });
});
