import { readFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { loadConfig } from '../../src/core/config';
import { purgeBatch } from '../../src/core/batches';
import { openAiRetentionSweep } from '../../src/core/openai';
import { expireBatches } from '../../src/core/pipeline/expiry';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { waitFor } from '../support/wait-for';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { TestReceiver } from './webhooks-receiver';
import type { ReceivedWebhook } from './webhooks-receiver';

/**
 * The OpenAI Batch API surface (/openai/v1) driven by the official `openai` npm package, unmodified,
 * against a running API and worker with the bundled spam classifier: upload a 10,000-line JSONL file,
 * create a batch, poll it to completion, download its output and error files and compare every request
 * with the native API's result for the same document; list with auto-pagination; cancel; delete the
 * file. Hostile input files get OpenAI-shaped errors with line numbers and store nothing.
 */

jest.setTimeout(300_000);

const SAMPLE = path.resolve(__dirname, '../../examples/spam-sample.ndjson');
/** The endpoint of a docbatch task (the SDK's types list OpenAI's endpoints only). */
const CLASSIFICATIONS = '/v1/classifications' as Batch['endpoint'] as never;
const SUMMARIES = '/v1/summaries' as never;

let h: ApiHarness;
let worker: WorkerProcess;
let client: OpenAI;
let receiver: TestReceiver;

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
      // The retention test runs the sweep itself: the worker's maintenance loop must not race it.
      RETENTION_DAYS: '0',
      LOG_LEVEL: 'silent',
    }),
    createLogger('silent'),
  );
  await worker.start();
  client = new OpenAI({ apiKey: h.key, baseURL: `${h.url}/openai/v1` });
});
afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  await receiver?.stop();
});

interface Request {
  custom_id: string;
  method: string;
  url: string;
  body: Record<string, unknown>;
}

function jsonl(requests: unknown[]): string {
  return requests.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

async function upload(content: string, filename = 'requests.jsonl'): Promise<OpenAI.FileObject> {
  return client.files.create({ file: await toFile(Buffer.from(content), filename), purpose: 'batch' });
}

async function untilDone(id: string): Promise<Batch> {
  return waitFor<Batch | null>(
    async () => {
      const b = await client.batches.retrieve(id);
      return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : null;
    },
    `batch ${id} to finish`,
    240_000,
    200,
  ) as Promise<Batch>;
}

async function count(sql: string): Promise<number> {
  return (await h.db.pool.query<{ n: number }>(sql)).rows[0]?.n ?? -1;
}

/** The stored state that a refused upload or a failed batch must leave unchanged. */
async function stored(): Promise<Record<string, number>> {
  return {
    batches: await count('SELECT count(*)::int AS n FROM batches'),
    documents: await count('SELECT count(*)::int AS n FROM documents'),
    files: await count('SELECT count(*)::int AS n FROM openai_files'),
    parts: await count('SELECT count(*)::int AS n FROM openai_file_parts'),
  };
}

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

function parseLines(text: string): OutputLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutputLine);
}

describe('a 10,000-request batch through the official openai SDK', () => {
  it('upload, create, poll, download output and error files: every custom_id once, the native results', async () => {
    const emails = readFileSync(SAMPLE, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { text: string }).text.slice(-800));
    const requests: Request[] = [];
    for (let i = 1; i <= 10_000; i++) {
      // Every 500th request is blank: the classifier refuses it (EMPTY_DOCUMENT), so it lands in the error file.
      const input = i % 500 === 0 ? '   ' : (emails[i % emails.length] as string);
      requests.push({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/classifications',
        body: { model: 'spam-classifier', input },
      });
    }
    const content = jsonl(requests);
    const file = await upload(content);
    expect(file).toMatchObject({
      object: 'file',
      purpose: 'batch',
      bytes: Buffer.byteLength(content),
      status: 'processed',
    });
    expect(await client.files.retrieve(file.id)).toMatchObject({ id: file.id, filename: 'requests.jsonl' });
    // The stored file is the uploaded bytes.
    expect(await (await client.files.content(file.id)).text()).toBe(content);

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
    expect(created).toMatchObject({
      object: 'batch',
      endpoint: '/v1/classifications',
      input_file_id: file.id,
      completion_window: '24h',
      status: 'in_progress',
      model: 'spam-classifier@2',
      metadata: { job: 'nightly' },
      request_counts: { total: 10_000 },
      errors: null,
    });
    expect(Number.isInteger(created.created_at) && created.created_at > 1.7e9).toBe(true);

    // The same documents through the native API, for the reference results.
    const native = await h.request('/v1/batches?task=classification&model=spam-classifier', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: requests.map((r) => JSON.stringify({ id: r.custom_id, text: r.body.input })).join('\n'),
    });
    expect(native.status).toBe(201);
    const nativeId = (await json<{ id: string }>(native)).id;

    const done = await untilDone(created.id);
    expect(done).toMatchObject({
      status: 'completed',
      request_counts: { total: 10_000, completed: 9_980, failed: 20 },
    });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.output_file_id).toMatch(/^file-/);
    expect(done.error_file_id).toMatch(/^file-/);

    // The OpenAI batch is a native batch too: same id, same counts (the dashboard and webhooks see it).
    const asNative = await json<{ status: string; counts: { completed: number } }>(
      await h.request(`/v1/batches/${created.id}`),
    );
    expect(asNative).toMatchObject({ status: 'completed', counts: { completed: 9_980 } });

    const output = parseLines(await (await client.files.content(done.output_file_id as string)).text());
    const errors = parseLines(await (await client.files.content(done.error_file_id as string)).text());
    expect(output).toHaveLength(9_980);
    expect(errors).toHaveLength(20);
    const seen = [...output, ...errors].map((l) => l.custom_id);
    expect(new Set(seen).size).toBe(10_000);
    expect(new Set(seen)).toEqual(new Set(requests.map((r) => r.custom_id)));
    expect(new Set([...output, ...errors].map((l) => l.id)).size).toBe(10_000);
    // Output in input order.
    expect(output.map((l) => l.custom_id)).toEqual(
      requests.filter((_, i) => (i + 1) % 500 !== 0).map((r) => r.custom_id),
    );
    for (const e of errors) {
      expect(e.response).toMatchObject({
        status_code: 400,
        body: { error: { code: 'EMPTY_DOCUMENT', type: 'invalid_request_error' } },
      });
      expect(e.error).toBeNull();
    }

    await waitFor(
      async () =>
        (await json<{ status: string }>(await h.request(`/v1/batches/${nativeId}`))).status === 'completed',
      'the native batch',
      240_000,
      200,
    );
    const nativeLines = (await (await h.request(`/v1/batches/${nativeId}/results`)).text())
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as { id: string; status: string; result: unknown; error: { code: string } | null },
      );
    const nativeById = new Map(nativeLines.map((l) => [l.id, l]));
    expect(nativeById.size).toBe(10_000);
    for (const line of output) {
      expect(line.error).toBeNull();
      expect(line.response?.status_code).toBe(200);
      expect(line.response?.body).toEqual({
        object: 'classification',
        model: 'spam-classifier@2',
        result: nativeById.get(line.custom_id)?.result,
      });
    }
    for (const e of errors) expect(nativeById.get(e.custom_id)?.error?.code).toBe('EMPTY_DOCUMENT');

    // The output file is listed with the batch_output purpose.
    const outFile = await client.files.retrieve(done.output_file_id as string);
    expect(outFile).toMatchObject({ purpose: 'batch_output', filename: `${created.id}_output.jsonl` });

    // Delete the input file: gone from retrieve, content and list; the batch keeps its input_file_id.
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.content(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await client.batches.retrieve(created.id)).input_file_id).toBe(file.id);
  });
});

describe('list, cancel', () => {
  it('lists batches and files with auto-pagination (after, limit, has_more)', async () => {
    const ids: string[] = [];
    const fileIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await upload(
        jsonl([
          {
            custom_id: `a${i}`,
            method: 'POST',
            url: '/v1/classifications',
            body: { model: 'spam-classifier', input: `Win money now ${i}` },
          },
        ]),
      );
      fileIds.push(f.id);
      ids.push(
        (
          await client.batches.create({
            input_file_id: f.id,
            endpoint: CLASSIFICATIONS,
            completion_window: '1h' as '24h',
            // A docbatch extension, sent as an extra body field.
            ...({ priority: i + 1 } as object),
          })
        ).id,
      );
    }
    const native = await json<{ priority: number; completion_window: string }>(
      await h.request(`/v1/batches/${ids[2]}`),
    );
    expect(native).toMatchObject({ priority: 3, completion_window: '1h' });
    const listed: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) listed.push(b.id);
    // Newest first, each once; the five new ones lead.
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.slice(0, 5)).toEqual([...ids].reverse());
    const page = await client.batches.list({ limit: 2 });
    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(true);

    const files: string[] = [];
    for await (const f of client.files.list({ limit: 2, purpose: 'batch' })) files.push(f.id);
    expect(files.slice(0, 5)).toEqual([...fileIds].reverse());
    const asc: string[] = [];
    for await (const f of client.files.list({ limit: 3, order: 'asc', purpose: 'batch' })) asc.push(f.id);
    expect(asc).toEqual([...files].reverse());
  });

  it('cancels a queued batch: cancelling/cancelled, every request in the error file as batch_cancelled', async () => {
    // The worker runs classification only: a summarization batch stays queued until cancelled.
    const requests = Array.from({ length: 300 }, (_, i) => ({
      custom_id: `s${i}`,
      method: 'POST',
      url: '/v1/summaries',
      body: {
        model: 'extractive-summarizer',
        input: `First sentence ${i}. Second sentence. Third one.`,
        max_sentences: 1,
      },
    }));
    const f = await upload(jsonl(requests));
    const b = await client.batches.create({
      input_file_id: f.id,
      endpoint: SUMMARIES,
      completion_window: '24h',
    });
    expect(b.status).toBe('in_progress');
    const cancelled = await client.batches.cancel(b.id);
    expect(['cancelling', 'cancelled']).toContain(cancelled.status);
    expect(cancelled.cancelling_at).toBeGreaterThanOrEqual(b.created_at);
    const done = await untilDone(b.id);
    expect(done).toMatchObject({
      status: 'cancelled',
      output_file_id: null,
      request_counts: { total: 300, completed: 0, failed: 300 },
    });
    const lines = parseLines(await (await client.files.content(done.error_file_id as string)).text());
    expect(lines.map((l) => l.custom_id)).toEqual(requests.map((r) => r.custom_id));
    expect(lines.every((l) => l.response === null && l.error?.code === 'batch_cancelled')).toBe(true);
    // Cancelling again is harmless; cancelling a completed batch is a 409 in OpenAI's error shape.
    expect((await client.batches.cancel(b.id)).status).toBe('cancelled');
    const small = await upload(
      jsonl([
        {
          custom_id: 'c1',
          method: 'POST',
          url: '/v1/classifications',
          body: { model: 'spam-classifier', input: 'Cheap pills' },
        },
      ]),
    );
    const finished = await client.batches.create({
      input_file_id: small.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
    });
    expect((await untilDone(finished.id)).status).toBe('completed');
    // Answered with x-should-retry: false, so the SDK does not retry it (it retries a 409 twice by default).
    let calls = 0;
    const counting = new OpenAI({
      apiKey: h.key,
      baseURL: `${h.url}/openai/v1`,
      fetch: (url: string | URL | globalThis.Request, init?: RequestInit) => {
        calls++;
        return fetch(url, init);
      },
    });
    const err = await counting.batches.cancel(finished.id).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(OpenAI.ConflictError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'batch_finished',
    });
  });
});

describe('webhooks', () => {
  it('an OpenAI batch sends the native signed webhook when it ends (its id is the batch id)', async () => {
    const f = await upload(
      jsonl([
        {
          custom_id: 'w1',
          method: 'POST',
          url: '/v1/classifications',
          body: { model: 'spam-classifier', input: 'Act now, free prize' },
        },
      ]),
    );
    const b = await client.batches.create({
      input_file_id: f.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
      // A docbatch extension, sent as an extra body field.
      ...({ webhook_url: receiver.url('/openai-hook') } as object),
    });
    const got = (await waitFor(
      () => receiver.at('/openai-hook')[0],
      'the webhook',
      60_000,
    )) as ReceivedWebhook;
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'batch.completed',
      data: { id: b.id, status: 'completed' },
    });
    expect(got.headers['webhook-signature']).toMatch(/^v1,/);
    const done = await untilDone(b.id);
    expect(done.status).toBe('completed');

    // Deleting the docbatch batch (native DELETE) deletes the OpenAI batch and its output file with it.
    expect((await h.request(`/v1/batches/${b.id}`, { method: 'DELETE' })).status).toBe(200);
    await expect(client.batches.retrieve(b.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.retrieve(done.output_file_id as string)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    expect(await count(`SELECT count(*)::int AS n FROM openai_files WHERE batch_id = '${b.id}'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM openai_batches WHERE id = '${b.id}'`)).toBe(0);
    // The uploaded input file is the client's: it stays until deleted (or RETENTION_DAYS).
    expect((await client.files.retrieve(f.id)).id).toBe(f.id);
  });
});

describe('retention', () => {
  it('RETENTION_DAYS removes input files and failed-validation records older than it; newer ones stay', async () => {
    const old = await upload('{"custom_id": "x", "method": "POST"\n');
    const failed = await client.batches.create({
      input_file_id: old.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
    });
    expect(failed.status).toBe('failed');
    const fresh = await upload('{}\n');
    await h.db.pool.query(`UPDATE openai_files SET created_at = now() - interval '30 days' WHERE id = $1`, [
      old.id,
    ]);
    await h.db.pool.query(`UPDATE openai_batches SET created_at = now() - interval '30 days' WHERE id = $1`, [
      failed.id,
    ]);
    const parts = await count(`SELECT count(*)::int AS n FROM openai_file_parts WHERE file_id = '${old.id}'`);
    expect(parts).toBe(1);
    expect(await openAiRetentionSweep(h.db.pool, 0, Date.now() + 5_000)).toEqual({
      files: 0,
      batches: 0,
      more: false,
    });
    expect(await openAiRetentionSweep(h.db.pool, 29, Date.now() + 5_000)).toEqual({
      files: 1,
      batches: 1,
      more: false,
    });
    await expect(client.files.retrieve(old.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.batches.retrieve(failed.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(await count(`SELECT count(*)::int AS n FROM openai_file_parts WHERE file_id = '${old.id}'`)).toBe(
      0,
    );
    expect((await client.files.retrieve(fresh.id)).id).toBe(fresh.id);
  });
});

describe('expiry', () => {
  it('a batch past its completion window: expired, every unfinished request in the error file as batch_expired', async () => {
    // Summarization is not served by this test's worker: the requests stay queued until the window passes.
    const requests = Array.from({ length: 40 }, (_, i) => ({
      custom_id: `e${i}`,
      method: 'POST',
      url: '/v1/summaries',
      body: { model: 'extractive-summarizer', input: `One sentence ${i}. Another one.` },
    }));
    const f = await upload(jsonl(requests));
    const b = await client.batches.create({
      input_file_id: f.id,
      endpoint: SUMMARIES,
      completion_window: '1m' as '24h',
    });
    expect(b.expires_at).toBe(b.created_at + 60);
    await h.db.pool.query(`UPDATE batches SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      b.id,
    ]);
    // The sweep (this test's, or the worker's maintenance loop if it came first) ends the batch.
    await expireBatches(h.db.pool);
    expect((await json<{ status: string }>(await h.request(`/v1/batches/${b.id}`))).status).toBe('expired');
    // While another request writes the batch's files (it holds the batch's lock), the batch is finalizing.
    const writer = await h.db.pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`SELECT pg_advisory_xact_lock(hashtext('openai-batch-files'), hashtext($1))`, [
        b.id,
      ]);
      const finalizing = await client.batches.retrieve(b.id);
      expect(finalizing).toMatchObject({ status: 'finalizing', error_file_id: null });
      expect(finalizing.finalizing_at).toBeGreaterThanOrEqual(finalizing.created_at);
    } finally {
      await writer.query('COMMIT');
      writer.release();
    }
    const done = await client.batches.retrieve(b.id);
    expect(done).toMatchObject({
      status: 'expired',
      output_file_id: null,
      request_counts: { total: 40, completed: 0, failed: 40 },
    });
    expect(done.expired_at).toBeGreaterThanOrEqual(done.created_at);
    const lines = parseLines(await (await client.files.content(done.error_file_id as string)).text());
    expect(lines.map((l) => l.custom_id)).toEqual(requests.map((r) => r.custom_id));
    expect(lines.every((l) => l.response === null && l.error?.code === 'batch_expired')).toBe(true);

    // A batch marked deleted (its rows not purged yet) is gone from this surface at once, files included.
    await h.db.pool.query('UPDATE batches SET deleted_at = now() WHERE id = $1', [b.id]);
    await expect(client.batches.retrieve(b.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.content(done.error_file_id as string)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    const listed: string[] = [];
    for await (const x of client.batches.list()) listed.push(x.id);
    for await (const x of client.files.list()) listed.push(x.id);
    expect(listed).not.toContain(b.id);
    expect(listed).not.toContain(done.error_file_id);
    // Purge it now (the maintenance loop of this test's worker would, later): its files go with its row.
    expect((await purgeBatch(h.db.pool, b.id)).done).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM openai_files WHERE batch_id = '${b.id}'`)).toBe(0);
  });
});

describe('hostile input', () => {
  it('bad lines, duplicate custom_id, wrong url, method or model: a failed batch with line errors, nothing stored', async () => {
    const ok = (id: string): Request => ({
      custom_id: id,
      method: 'POST',
      url: '/v1/classifications',
      body: { model: 'spam-classifier', input: 'Hello there' },
    });
    const lines = [
      JSON.stringify(ok('a')),
      '{"custom_id": "b", "method": "POST",', // 2: not JSON
      JSON.stringify(ok('a')), // 3: duplicate custom_id
      JSON.stringify({ ...ok('c'), url: '/v1/chat/completions' }), // 4: unknown url
      JSON.stringify({ ...ok('d'), url: '/v1/summaries' }), // 5: another endpoint (mixed)
      JSON.stringify({ ...ok('e'), method: 'GET' }), // 6: wrong method
      JSON.stringify({ ...ok('f'), body: { model: 'sentiment-classifier', input: 'x' } }), // 7: another model
      JSON.stringify({
        custom_id: 'g',
        method: 'POST',
        url: '/v1/classifications',
        body: { model: 'spam-classifier' },
      }), // 8
      JSON.stringify({ ...ok('h'), body: { model: 'spam-classifier', input: 'x', top_k: 1 } }), // 9: other options
      JSON.stringify(ok('i')),
    ];
    const f = await upload(lines.join('\n') + '\n');
    const before = await stored();
    const b = await client.batches.create({
      input_file_id: f.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
    });
    expect(b.status).toBe('failed');
    expect(b.failed_at).toBeGreaterThanOrEqual(b.created_at);
    expect(b.errors?.object).toBe('list');
    expect(b.errors?.data?.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'duplicate_custom_id', 'custom_id'],
      [4, 'url_mismatch', 'url'],
      [5, 'url_mismatch', 'url'],
      [6, 'invalid_request', 'method'],
      [7, 'model_mismatch', 'body.model'],
      [8, 'missing_required_parameter', 'body.input'],
      [9, 'options_mismatch', 'body'],
    ]);
    expect(b.errors?.data?.every((e) => typeof e.message === 'string' && e.message.length > 0)).toBe(true);
    // No docbatch batch, no document, no file written; the failed batch is what retrieve reports.
    expect(await stored()).toEqual(before);
    expect(await client.batches.retrieve(b.id)).toEqual(b);
    expect((await h.request(`/v1/batches/${b.id}`)).status).toBe(404);
  });

  it('an unknown model, invalid options, an empty file, a too-long custom_id, blank lines inside: failed with errors', async () => {
    const line = (body: Record<string, unknown>, id = 'x'): string =>
      JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/classifications', body });
    const cases: [string, [number | null, string, string | null][]][] = [
      [line({ model: 'no-such-model', input: 'x' }), [[1, 'model_not_found', 'body.model']]],
      [line({ model: 'spam-classifier', input: 'x', top_k: 'two' }), [[1, 'invalid_request', 'body.top_k']]],
      ['\n\n', [[null, 'empty_file', null]]],
      [
        line({ model: 'spam-classifier', input: 'x' }, 'x'.repeat(200)),
        [[1, 'invalid_request', 'custom_id']],
      ],
      [line({ model: 'spam-classifier', input: '' }), [[1, 'invalid_request', 'body.input']]],
      [
        `${line({ model: 'spam-classifier', input: 'x' }, 'a')}\n\n${line({ model: 'spam-classifier', input: 'y' }, 'b')}`,
        [[2, 'invalid_json_line', null]],
      ],
    ];
    for (const [content, expected] of cases) {
      const f = await upload(content);
      const before = await stored();
      const b = await client.batches.create({
        input_file_id: f.id,
        endpoint: CLASSIFICATIONS,
        completion_window: '24h',
      });
      expect(b.status).toBe('failed');
      expect(b.errors?.data?.map((e) => [e.line ?? null, e.code, e.param ?? null])).toEqual(expected);
      expect(await stored()).toEqual(before);
    }
  });

  it('request errors are 4xx in OpenAI error shape; a refused upload stores nothing', async () => {
    const f = await upload(
      jsonl([
        {
          custom_id: 'a',
          method: 'POST',
          url: '/v1/classifications',
          body: { model: 'spam-classifier', input: 'x' },
        },
      ]),
    );
    const cases: [Promise<unknown>, new (...args: never[]) => Error, Record<string, unknown>][] = [
      [
        client.batches.create({
          input_file_id: f.id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
        }),
        OpenAI.BadRequestError,
        { type: 'invalid_request_error', param: 'endpoint', code: 'invalid_value' },
      ],
      [
        client.batches.create({
          input_file_id: f.id,
          endpoint: CLASSIFICATIONS,
          completion_window: '30d' as '24h',
        }),
        OpenAI.BadRequestError,
        { param: 'completion_window', code: 'invalid_value' },
      ],
      [
        client.batches.create({
          input_file_id: 'file-nope',
          endpoint: CLASSIFICATIONS,
          completion_window: '24h',
        }),
        OpenAI.NotFoundError,
        { param: 'input_file_id', code: 'not_found' },
      ],
      [client.batches.retrieve('bat_nope'), OpenAI.NotFoundError, { code: 'not_found' }],
      [client.files.retrieve('file-nope'), OpenAI.NotFoundError, { code: 'not_found' }],
      [client.files.delete('file-nope'), OpenAI.NotFoundError, { code: 'not_found' }],
      [client.batches.list({ limit: 101 }), OpenAI.BadRequestError, { param: 'limit' }],
      [
        new OpenAI({ apiKey: 'dbk_wrong', baseURL: `${h.url}/openai/v1` }).batches.list(),
        OpenAI.AuthenticationError,
        { code: 'invalid_api_key' },
      ],
    ];
    for (const [p, cls, shape] of cases) {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(cls);
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject(shape);
      expect(typeof (err as { error: { message: unknown } }).error.message).toBe('string');
    }

    const before = await stored();
    const wrongPurpose = await client.files
      .create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'fine-tune' })
      .catch((e: unknown) => e);
    expect(wrongPurpose).toBeInstanceOf(OpenAI.BadRequestError);
    expect((wrongPurpose as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      param: 'purpose',
      code: 'invalid_value',
    });
    // A file larger than a part (1 MiB) streamed in, then refused: not a byte stays.
    const big = await client.files
      .create({ file: await toFile(Buffer.alloc(3 * 1024 * 1024, 'a'), 'big.jsonl'), purpose: 'assistants' })
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await stored()).toEqual(before);

    // Another tenant's files and batches do not exist for this one.
    const other = new OpenAI({ apiKey: (await h.newTenant('other')).key, baseURL: `${h.url}/openai/v1` });
    const mine = await client.batches.create({
      input_file_id: f.id,
      endpoint: CLASSIFICATIONS,
      completion_window: '24h',
    });
    for (const call of [
      () => other.files.retrieve(f.id),
      () => other.files.content(f.id),
      () => other.files.delete(f.id),
      () => other.batches.retrieve(mine.id),
      () => other.batches.cancel(mine.id),
      () =>
        other.batches.create({ input_file_id: f.id, endpoint: CLASSIFICATIONS, completion_window: '24h' }),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    }
    expect((await other.files.list()).data).toEqual([]);
    expect((await other.batches.list()).data).toEqual([]);

    // Unknown routes under /openai/v1 answer in OpenAI's shape too.
    const res = await h.request('/openai/v1/chat/completions', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'not_found', param: null },
    });
  });
});

describe('upload limits', () => {
  it('a file over MAX_BODY_BYTES is 413 (declared or streamed); nothing stored', async () => {
    const small = await startApi({ MAX_BODY_BYTES: String(2 * 1024 * 1024) });
    try {
      const c = new OpenAI({ apiKey: small.key, baseURL: `${small.url}/openai/v1`, maxRetries: 0 });
      const err = await c.files
        .create({ file: await toFile(Buffer.alloc(3 * 1024 * 1024, 'a'), 'big.jsonl'), purpose: 'batch' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
        code: 'file_too_large',
        param: 'file',
      });
      // Chunked (no Content-Length): cut off while streaming, after the first parts were written.
      const boundary = 'xxBOUNDARYxx';
      const body = (async function* () {
        yield Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        );
        for (let i = 0; i < 12; i++) yield Buffer.alloc(256 * 1024, 'b');
        yield Buffer.from(`\r\n--${boundary}--\r\n`);
      })();
      const res = await small.request('/openai/v1/files', {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: body as unknown as RequestInit['body'],
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({
        error: { code: 'file_too_large', type: 'invalid_request_error' },
      });
      const n = await small.db.pool.query<{ files: number; parts: number }>(
        'SELECT (SELECT count(*)::int FROM openai_files) AS files, (SELECT count(*)::int FROM openai_file_parts) AS parts',
      );
      expect(n.rows[0]).toEqual({ files: 0, parts: 0 });
    } finally {
      await small.stop();
    }
  });
});
