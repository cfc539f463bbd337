import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { WorkerProcess } from '../../src/workers/worker-process';
import { BROKEN_MODEL_REPO, expectedScores, MODEL_REPO, modelFixtures } from '../support/model-fixtures';
import { waitFor } from '../support/wait-for';
import { ConflictError, DocBatchClient, InvalidRequestError, NotFoundError } from '@docbatch/sdk';
import { json, startApi } from './api-harness';
import type { ApiHarness } from './api-harness';
import { inheritedEnv, runCliProcess } from './cli-harness';

/**
 * Tenant models through the HTTP API (issue 20): the seeds' Keras 3 model files
 * (test/fixtures/model-repo/seeds-lstm-keras3-h5/1, written by `model.save('model.h5')` and
 * `Tokenizer.to_json()`) uploaded with `POST /v1/models` as multipart and as tar.gz, a real worker
 * that materialises them from Postgres, and the scores compared with the same model served from
 * MODELS_DIR. Broken uploads are refused with the file and field named and nothing stored; another
 * tenant cannot list, see, use or delete the model; a model in use cannot be deleted, a deleted one
 * fails its batch cleanly.
 */

jest.setTimeout(300_000);

const SHARED = 'seeds-lstm-keras3-h5';
const FIXTURE = modelFixtures().find((f) => f.name === SHARED)!;
const NAME = 'my-seeds';
const MAX_BYTES = 1_500_000;

interface ModelObject {
  id: string;
  task: string;
  labels?: string[];
  owned_by: string;
  default: boolean;
  source?: string;
  bytes?: number;
}
interface ErrorBody {
  error: { code: string; message: string; details?: { file?: string; field?: string; message: string }[] };
}
interface BatchEnd {
  id: string;
  model: string;
  status: string;
  error: { code: string; message: string } | null;
}
interface ResultLine {
  id: string;
  status: string;
  result: { scores: Record<string, number> } | null;
}

/** The fixture's files (without expected.json), config.json renamed to `name`. */
function modelFiles(name = NAME, dir = FIXTURE.dir): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(dir)) {
    if (f === 'expected.json' || f === 'BROKEN.md') continue;
    files.set(f, readFileSync(path.join(dir, f)));
  }
  const config = JSON.parse(files.get('config.json')!.toString()) as Record<string, unknown>;
  files.set('config.json', Buffer.from(JSON.stringify({ ...config, name }, null, 2)));
  return files;
}

function withConfig(
  files: Map<string, Buffer>,
  change: (c: Record<string, unknown>) => void,
): Map<string, Buffer> {
  const c = JSON.parse(files.get('config.json')!.toString()) as Record<string, unknown>;
  change(c);
  return new Map(files).set('config.json', Buffer.from(JSON.stringify(c)));
}

function multipart(files: Map<string, Buffer>, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const [p, data] of files) form.append('file', new Blob([data]), p);
  return form;
}

/** A tar (gzip-compressed with `gzip`) made by the system's tar from the files under `top/`. */
function tarball(files: Map<string, Buffer>, opts: { gzip?: boolean; top?: string } = {}): Buffer {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tenant-model-tar-'));
  try {
    const base = path.join(root, opts.top ?? '');
    for (const [p, data] of files) {
      mkdirSync(path.dirname(path.join(base, p)), { recursive: true });
      writeFileSync(path.join(base, p), data);
    }
    const out = path.join(os.tmpdir(), `tenant-model-${process.pid}-${Date.now()}.tar`);
    execFileSync(
      'tar',
      [opts.gzip ? '-czf' : '-cf', out, '-C', root, opts.top ?? '.'].filter((a) => a !== ''),
    );
    const tar = readFileSync(out);
    rmSync(out, { force: true });
    return tar;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

let h: ApiHarness;
let worker: WorkerProcess | undefined;
let cacheDir: string;

async function upload(body: FormData | Buffer, contentType?: string, key?: string): Promise<Response> {
  return h.request('/v1/models', {
    method: 'POST',
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    body,
    ...(key ? { key } : {}),
  });
}

async function submit(model: string, texts: string[], key?: string): Promise<Response> {
  return h.request('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(key ? { key } : {}),
    body: JSON.stringify({
      task: 'classification',
      model,
      documents: texts.flatMap((text, i) => (text === '' ? [] : [{ id: `t${i}`, text }])),
    }),
  });
}

async function waitForEnd(id: string): Promise<BatchEnd> {
  return (await waitFor(
    async () => {
      const b = await json<BatchEnd>(await h.request(`/v1/batches/${id}`));
      return ['completed', 'failed', 'cancelled', 'expired'].includes(b.status) ? b : null;
    },
    `batch ${id} to end`,
    120_000,
    100,
  ))!;
}

async function scores(id: string): Promise<Map<string, Record<string, number>>> {
  const text = await (await h.request(`/v1/batches/${id}/results`)).text();
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);
  for (const l of lines) expect(l.status).toBe('completed');
  return new Map(lines.map((l) => [l.id, l.result!.scores]));
}

async function stored(): Promise<{ models: number; files: number }> {
  const { rows } = await h.db.pool.query<{ models: number; files: number }>(
    `SELECT (SELECT count(*)::int FROM tenant_models) AS models, (SELECT count(*)::int FROM tenant_model_files) AS files`,
  );
  return rows[0]!;
}

beforeAll(async () => {
  h = await startApi({ MODELS_DIR: MODEL_REPO, MODEL_UPLOAD_MAX_BYTES: String(MAX_BYTES) });
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'tenant-model-cache-'));
});

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

let inUseBatch: string;
let deletedBatch: string;
/** The scores of the first tenant-model batch, by document id. */
let firstScores: Map<string, Record<string, number>>;

test('POST /v1/models (multipart) stores the model; a model in use cannot be deleted', async () => {
  const res = await upload(multipart(modelFiles()));
  const body = await json<ModelObject>(res);
  expect(res.status).toBe(201);
  expect(res.headers.get('location')).toBe(`/v1/models/${encodeURIComponent(`${NAME}@1`)}`);
  expect(body).toMatchObject({
    id: `${NAME}@1`,
    task: 'classification',
    labels: ['negative', 'positive'],
    owned_by: 'tenant',
    default: false,
    source: 'upload',
  });
  // No worker yet: the batch stays queued.
  const batch = await json<BatchEnd>(await submit(`${NAME}@1`, FIXTURE.expected.texts.slice(0, 20)));
  expect(batch.model).toBe(`${NAME}@1`);
  inUseBatch = batch.id;
  const del = await h.request(`/v1/models/${NAME}@1`, { method: 'DELETE' });
  expect(del.status).toBe(409);
  expect((await json<ErrorBody>(del)).error.code).toBe('MODEL_IN_USE');

  // A model deleted while its batch waits (the delete raced the batch's creation) fails that batch.
  expect((await upload(multipart(modelFiles('doomed')))).status).toBe(201);
  deletedBatch = (await json<BatchEnd>(await submit('doomed', ['a fine day']))).id;
  await h.db.pool.query(`DELETE FROM tenant_models WHERE name = 'doomed'`);
});

test('a worker runs it: the scores equal the same model served from MODELS_DIR', async () => {
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'cpu',
      MODELS_DIR: MODEL_REPO,
      MODEL_CACHE_DIR: cacheDir,
      WORKER_TASKS: 'classification',
      CHUNK_ATTEMPTS: '3',
    }),
    createLogger('silent'),
    { heartbeatMs: 200 },
  );
  await worker.start();
  expect(await waitForEnd(inUseBatch)).toMatchObject({ status: 'completed', error: null });
  const gone = await waitForEnd(deletedBatch);
  expect(gone.status).toBe('failed');
  expect(gone.error).toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  expect(gone.error!.message).toMatch(/deleted/);

  const texts = FIXTURE.expected.texts;
  const own = await json<BatchEnd>(await submit(NAME, texts));
  const shared = await json<BatchEnd>(await submit(`${SHARED}@1`, texts));
  expect(own.model).toBe(`${NAME}@1`);
  expect((await waitForEnd(own.id)).status).toBe('completed');
  expect((await waitForEnd(shared.id)).status).toBe('completed');
  const a = await scores(own.id);
  firstScores = a;
  const b = await scores(shared.id);
  expect(a.size).toBe(texts.filter((t) => t !== '').length);
  let worstShared = 0;
  let worstKeras = 0;
  for (const [id, s] of a) {
    const want = expectedScores(FIXTURE, Number(id.slice(1)));
    for (const label of Object.keys(want)) {
      worstShared = Math.max(worstShared, Math.abs(s[label]! - b.get(id)![label]!));
      worstKeras = Math.max(worstKeras, Math.abs(s[label]! - want[label]!));
    }
  }
  expect(worstShared).toBeLessThanOrEqual(1e-6);
  expect(worstKeras).toBeLessThanOrEqual(1e-4);
  // The worker's cache: one directory for the model version, named by its id and content hash.
  expect(readdirSync(cacheDir).filter((d) => !d.startsWith('.'))).toHaveLength(1);
});

test('tar and tar.gz uploads (also inside a top directory) give the next versions', async () => {
  const gz = await upload(tarball(modelFiles(), { gzip: true }), 'application/gzip');
  expect(gz.status).toBe(201);
  expect((await json<ModelObject>(gz)).id).toBe(`${NAME}@2`);
  const plain = await upload(tarball(modelFiles(), { top: 'my-seeds-export' }), 'application/x-tar');
  expect(plain.status).toBe(201);
  expect((await json<ModelObject>(plain)).id).toBe(`${NAME}@3`);
  const list = await json<{ data: ModelObject[] }>(await h.request('/v1/models'));
  const ids = list.data.filter((m) => m.owned_by === 'tenant').map((m) => m.id);
  expect(ids).toEqual([`${NAME}@1`, `${NAME}@2`, `${NAME}@3`]);
  expect(list.data.find((m) => m.id === `${SHARED}@1`)).toMatchObject({ owned_by: 'system' });
  const one = await json<ModelObject>(await h.request(`/v1/models/${NAME}`));
  expect(one).toMatchObject({ id: `${NAME}@3`, owned_by: 'tenant' });
});

test('a worker without a tokenizer thread runs version 2 (same files) with the same scores', async () => {
  await worker!.stop();
  const cache2 = mkdtempSync(path.join(os.tmpdir(), 'tenant-model-cache-'));
  worker = new WorkerProcess(
    loadConfig('worker', {
      ...h.env.env,
      TF_BACKEND: 'cpu',
      MODEL_CACHE_DIR: cache2,
      TOKENIZER_THREAD: 'false',
      WORKER_TASKS: 'classification',
      CHUNK_ATTEMPTS: '3',
    }),
    createLogger('silent'),
    { heartbeatMs: 200 },
  );
  try {
    await worker.start();
    const texts = FIXTURE.expected.texts.slice(0, 60);
    const batch = await json<BatchEnd>(await submit(`${NAME}@2`, texts));
    expect((await waitForEnd(batch.id)).status).toBe('completed');
    const got = await scores(batch.id);
    expect(got.size).toBe(texts.filter((t) => t !== '').length);
    for (const [id, s] of got) expect(s).toEqual(firstScores.get(id));
    expect(readdirSync(cache2).filter((d) => !d.startsWith('.'))).toHaveLength(1);
  } finally {
    rmSync(cache2, { recursive: true, force: true });
  }
});

test('broken uploads are refused with the file and field named, and nothing is stored', async () => {
  const before = await stored();
  const good = modelFiles('broken-try');
  const cases: {
    what: string;
    send: () => Promise<Response>;
    status: number;
    code: string;
    file?: string;
    field?: RegExp;
  }[] = [
    {
      what: 'a bad config.json field',
      send: () => upload(multipart(withConfig(good, (c) => (c.labels = ['only'])))),
      status: 400,
      code: 'INVALID_MODEL',
      file: 'config.json',
      field: /labels/,
    },
    {
      what: 'a missing named file',
      send: () => {
        const f = new Map(good);
        f.delete('tokenizer.json');
        return upload(multipart(f));
      },
      status: 400,
      code: 'INVALID_MODEL',
      file: 'tokenizer.json',
    },
    {
      what: 'a vocabulary larger than the embedding',
      send: () =>
        upload(multipart(modelFiles('wrong-vocab', path.join(BROKEN_MODEL_REPO, 'wrong-vocab', '1')))),
      status: 400,
      code: 'INVALID_MODEL',
      file: 'tokenizer.json',
    },
    {
      what: 'a path out of the model directory',
      send: () => upload(multipart(new Map(good).set('../escape.txt', Buffer.from('x')))),
      status: 400,
      code: 'INVALID_MODEL',
      file: '../escape.txt',
      field: /path/,
    },
    {
      what: 'the same file twice',
      send: () => {
        const form = multipart(good);
        form.append('file', new Blob([Buffer.from('{}')]), 'tokenizer.json');
        return upload(form);
      },
      status: 400,
      code: 'INVALID_MODEL',
      file: 'tokenizer.json',
      field: /path/,
    },
    {
      what: 'files past MODEL_UPLOAD_MAX_BYTES',
      send: () => upload(multipart(new Map(good).set('padding.bin', Buffer.alloc(MAX_BYTES)))),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      what: 'a tar past MODEL_UPLOAD_MAX_BYTES',
      send: () =>
        upload(tarball(new Map(good).set('padding.bin', Buffer.alloc(MAX_BYTES))), 'application/x-tar'),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      what: 'a body that is not a tar',
      send: () => upload(Buffer.from('this is not a tar archive '.repeat(40)), 'application/x-tar'),
      status: 400,
      code: 'INVALID_MODEL',
      field: /archive/,
    },
    {
      what: 'a truncated tar.gz',
      send: () => {
        const gz = tarball(good, { gzip: true });
        return upload(gz.subarray(0, Math.floor(gz.length / 2)), 'application/gzip');
      },
      status: 400,
      code: 'INVALID_MODEL',
      field: /archive/,
    },
    {
      what: 'a shared model’s name',
      send: () => upload(multipart(modelFiles(SHARED))),
      status: 409,
      code: 'MODEL_NAME_TAKEN',
    },
    {
      what: 'another media type',
      send: () => upload(Buffer.from('{}'), 'application/json'),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
  ];
  for (const c of cases) {
    const res = await c.send();
    const body = await json<ErrorBody>(res);
    expect([c.what, res.status, body.error.code]).toEqual([c.what, c.status, c.code]);
    if (c.file) expect([c.what, body.error.details?.[0]?.file]).toEqual([c.what, c.file]);
    if (c.field) expect(body.error.details?.[0]?.field).toMatch(c.field);
    expect(body.error.message).not.toMatch(/docbatch-model-check|\/tmp\//);
  }
  expect(await stored()).toEqual(before);
});

test('another tenant cannot list, see, use or delete the model', async () => {
  const other = await h.newTenant('other-co');
  const list = await json<{ data: ModelObject[] }>(await h.request('/v1/models', { key: other.key }));
  expect(list.data.some((m) => m.owned_by === 'tenant' || m.id.startsWith(NAME))).toBe(false);
  expect(list.data.some((m) => m.id === `${SHARED}@1`)).toBe(true);
  expect((await h.request(`/v1/models/${NAME}@1`, { key: other.key })).status).toBe(404);
  for (const model of [NAME, `${NAME}@1`]) {
    const res = await submit(model, ['nice'], other.key);
    expect(res.status).toBe(422);
    expect((await json<ErrorBody>(res)).error.code).toBe('UNKNOWN_MODEL');
  }
  expect((await h.request(`/v1/models/${NAME}@1`, { method: 'DELETE', key: other.key })).status).toBe(404);
  // The other tenant may use the name for a model of its own.
  const own = await upload(multipart(modelFiles()), undefined, other.key);
  expect(own.status).toBe(201);
  expect((await json<ModelObject>(own)).id).toBe(`${NAME}@1`);
});

test('DELETE /v1/models/{id} removes a version and its files; it is then unknown', async () => {
  const before = await stored();
  const del = await h.request(`/v1/models/${NAME}@1`, { method: 'DELETE' });
  expect(del.status).toBe(200);
  expect(await json(del)).toEqual({ id: `${NAME}@1`, object: 'model', deleted: true });
  const after = await stored();
  expect(before.models - after.models).toBe(1);
  expect(before.files - after.files).toBe(modelFiles().size);
  expect((await h.request(`/v1/models/${NAME}@1`)).status).toBe(404);
  expect((await h.request(`/v1/models/${NAME}@1`, { method: 'DELETE' })).status).toBe(404);
  const res = await submit(`${NAME}@1`, ['nice']);
  expect((await json<ErrorBody>(res)).error.code).toBe('UNKNOWN_MODEL');
  // The finished batch that ran it stays readable.
  expect((await json<BatchEnd>(await h.request(`/v1/batches/${inUseBatch}`))).model).toBe(`${NAME}@1`);
  // Shared models are the operator's.
  expect((await h.request(`/v1/models/${SHARED}@1`, { method: 'DELETE' })).status).toBe(403);
});

test('CLI: models upload DIR --name, models, submit --model, models delete', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tenant-model-cli-'));
  const env = { ...inheritedEnv(), DOCBATCH_URL: h.url, DOCBATCH_API_KEY: h.key };
  try {
    for (const [p, data] of modelFiles('cli-seeds')) writeFileSync(path.join(dir, p), data);
    const up = await runCliProcess(['--json', 'models', 'upload', dir, '--name', 'cli-seeds'], env);
    expect([up.code, up.stderr]).toEqual([0, '']);
    expect(JSON.parse(up.stdout)).toMatchObject({ id: 'cli-seeds@1', owned_by: 'tenant' });
    const list = await runCliProcess(['models'], env);
    expect(list.stdout).toMatch(/cli-seeds@1\s+classification\s+tenant/);
    writeFileSync(
      path.join(dir, 'docs.ndjson'),
      '{"id":"a","text":"a lovely film"}\n{"id":"b","text":"awful"}\n',
    );
    const run = await runCliProcess(
      ['submit', path.join(dir, 'docs.ndjson'), '--task', 'classification', '--model', 'cli-seeds', '--wait'],
      env,
    );
    expect([run.code, run.stderr]).toEqual([0, expect.stringMatching(/completed/)]);
    const del = await runCliProcess(['models', 'delete', 'cli-seeds@1'], env);
    expect([del.code, del.stdout.trim()]).toEqual([0, 'deleted cli-seeds@1']);
    // A broken model: exit 1, the code, file and field on stderr.
    const c = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...c, labels: ['x'] }));
    const bad = await runCliProcess(['models', 'upload', dir], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_MODEL/);
    expect(bad.stderr).toMatch(/config\.json labels/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SDK: uploadModel, getModel, deleteModel with typed errors', async () => {
  const client = new DocBatchClient({ baseUrl: h.url, apiKey: h.key });
  const files = new Map<string, Uint8Array>(modelFiles('sdk-seeds'));
  const model = await client.uploadModel(files);
  expect(model).toMatchObject({ id: 'sdk-seeds@1', owned_by: 'tenant', source: 'upload' });
  expect(await client.getModel('sdk-seeds')).toMatchObject({ id: 'sdk-seeds@1' });
  expect((await client.listModels()).map((m) => m.id)).toContain('sdk-seeds@1');
  const broken = new Map(files).set('config.json', Buffer.from('{"name": "sdk-seeds", "task": 7}'));
  const err = await client.uploadModel(broken).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidRequestError);
  expect(err).toMatchObject({ code: 'INVALID_MODEL', status: 400 });
  expect((err as InvalidRequestError).details[0]).toMatchObject({ file: 'config.json', field: 'task' });
  await expect(client.uploadModel(files, { name: SHARED })).rejects.toBeInstanceOf(ConflictError);
  expect(await client.deleteModel('sdk-seeds@1')).toEqual({
    id: 'sdk-seeds@1',
    object: 'model',
    deleted: true,
  });
  await expect(client.getModel('sdk-seeds@1')).rejects.toBeInstanceOf(NotFoundError);
});
