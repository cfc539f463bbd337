import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Database } from '../../src/core/db/database';
import { initTfBackend } from '../../src/core/models/backend';
import {
  createTenantModelVersion,
  InvalidModelError,
  listTenantModels,
  readTenantModelFiles,
} from '../../src/core/models/tenant-models';
import { createTenantWithKey } from '../../src/core/tenants';
import { TenantModelCache } from '../../src/core/pipeline/tenant-model-cache';
import { MODEL_REPO } from '../support/model-fixtures';
import { createTestEnvironment, type TestEnvironment } from '../support/test-db';

/**
 * The storage layer of tenant models (issue 20): createTenantModelVersion against a real Postgres,
 * with the files Keras 3 wrote (test/fixtures/model-repo/seeds-lstm-keras3-h5/1). A refused model
 * stores nothing; versions follow each other; a training job's retries get one version back.
 */

jest.setTimeout(120_000);

const FIXTURE = path.join(MODEL_REPO, 'seeds-lstm-keras3-h5', '1');
const NAME = 'seeds-lstm-keras3-h5';

function fixtureFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(FIXTURE))
    if (f !== 'expected.json') files.set(f, readFileSync(path.join(FIXTURE, f)));
  return files;
}

let env: TestEnvironment;
let db: Database;
let tenantId: string;
let otherTenantId: string;

async function counts(): Promise<{ models: number; files: number }> {
  const { rows } = await db.pool.query<{ models: number; files: number }>(
    `SELECT (SELECT count(*)::int FROM tenant_models) AS models, (SELECT count(*)::int FROM tenant_model_files) AS files`,
  );
  return rows[0]!;
}

beforeAll(async () => {
  await initTfBackend('cpu');
  env = await createTestEnvironment();
  db = new Database(env.databaseUrl, 8);
  tenantId = (await createTenantWithKey(db, 'models-a')).tenant.id;
  otherTenantId = (await createTenantWithKey(db, 'models-b')).tenant.id;
});

afterAll(async () => {
  await db?.close();
  await env?.cleanup();
});

test('a refused model stores nothing and names the file and field', async () => {
  const cases: { change: (f: Map<string, Buffer>) => void; file: string; field?: RegExp }[] = [
    {
      change: (f) => {
        const c = JSON.parse(f.get('config.json')!.toString()) as Record<string, unknown>;
        c.labels = ['only-one'];
        f.set('config.json', Buffer.from(JSON.stringify(c)));
      },
      file: 'config.json',
      field: /labels/,
    },
    { change: (f) => f.delete('tokenizer.json'), file: 'tokenizer.json' },
    {
      change: (f) => {
        const c = JSON.parse(f.get('config.json')!.toString()) as Record<string, unknown>;
        c.labels = ['a', 'b', 'c'];
        c.output = 'probabilities';
        f.set('config.json', Buffer.from(JSON.stringify(c)));
      },
      file: 'config.json',
    },
    { change: (f) => f.set('../escape.txt', Buffer.from('x')), file: '../escape.txt', field: /path/ },
    { change: (f) => f.set('model.h5', Buffer.from('not an hdf5 file')), file: 'model.h5' },
    { change: (f) => f.set('model.h5/weights.bin', Buffer.from('x')), file: 'model.h5', field: /path/ },
    {
      change: (f) => {
        const c = JSON.parse(f.get('config.json')!.toString()) as Record<string, unknown>;
        c.labels = ['neg\u0000', 'pos'];
        f.set('config.json', Buffer.from(JSON.stringify(c)));
      },
      file: 'config.json',
      field: /labels/,
    },
  ];
  for (const c of cases) {
    const files = fixtureFiles();
    c.change(files);
    const err = await createTenantModelVersion(db, { tenantId, name: NAME, files, source: 'upload' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidModelError);
    const e = err as InvalidModelError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.file).toBe(c.file);
    if (c.field) expect(e.field).toMatch(c.field);
    expect(e.message).not.toMatch(/docbatch-model-check/);
  }
  expect(await counts()).toEqual({ models: 0, files: 0 });
});

test('versions follow each other per tenant and name; the files come back unchanged', async () => {
  const files = fixtureFiles();
  const v1 = await createTenantModelVersion(db, { tenantId, name: NAME, files, source: 'upload' });
  const v2 = await createTenantModelVersion(db, { tenantId, name: NAME, files, source: 'upload' });
  const b1 = await createTenantModelVersion(db, {
    tenantId: otherTenantId,
    name: NAME,
    files,
    source: 'upload',
  });
  expect([v1.version, v2.version, b1.version]).toEqual([1, 2, 1]);
  expect(v1).toMatchObject({
    modelId: `${NAME}@1`,
    task: 'classification',
    runtime: 'text-classifier',
    created: true,
  });
  expect(v1.contentHash).toBe(v2.contentHash);
  expect(v1.bytes).toBe([...files.values()].reduce((n, b) => n + b.length, 0));
  const back = await readTenantModelFiles(db.pool, v2.id);
  expect([...back.keys()].sort()).toEqual([...files.keys()].sort());
  for (const [p, data] of files) expect(back.get(p)!.equals(data)).toBe(true);
  expect((await listTenantModels(db.pool, tenantId)).map((m) => m.modelId)).toEqual([
    `${NAME}@1`,
    `${NAME}@2`,
  ]);
  const taken = await createTenantModelVersion(db, {
    tenantId,
    name: NAME,
    files,
    source: 'upload',
    version: 2,
  }).catch((e: { code?: string }) => e.code);
  expect(taken).toBe('MODEL_VERSION_EXISTS');
});

test('a shared model name is refused with MODEL_NAME_TAKEN', async () => {
  const shared = { configured: () => [{ name: NAME } as never] };
  const err = await createTenantModelVersion(
    db,
    { tenantId, name: NAME, files: fixtureFiles(), source: 'upload' },
    { shared },
  ).catch((e: { code?: string; status?: number }) => e);
  expect(err).toMatchObject({ code: 'MODEL_NAME_TAKEN', status: 409 });
});

test('idempotent on trainingJobId: retries, also concurrent ones, get one version', async () => {
  const before = await counts();
  const input = { tenantId, name: 'trained', source: 'training' as const, trainingJobId: 'trj_test_1' };
  const withName = (): Map<string, Buffer> => {
    const files = fixtureFiles();
    const c = JSON.parse(files.get('config.json')!.toString()) as Record<string, unknown>;
    files.set('config.json', Buffer.from(JSON.stringify({ ...c, name: 'trained' })));
    return files;
  };
  const results = await Promise.all(
    [1, 2, 3].map(() => createTenantModelVersion(db, { ...input, files: withName() })),
  );
  expect(new Set(results.map((r) => r.id)).size).toBe(1);
  expect(results.filter((r) => r.created)).toHaveLength(1);
  const again = await createTenantModelVersion(db, { ...input, files: withName() });
  expect(again).toMatchObject({
    id: results[0]!.id,
    version: 1,
    created: false,
    trainingJobId: 'trj_test_1',
  });
  const after = await counts();
  expect(after.models - before.models).toBe(1);
  // Another tenant cannot take over the job id.
  await expect(
    createTenantModelVersion(db, { ...input, tenantId: otherTenantId, files: withName() }),
  ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
});

test('a worker copies a version to its cache byte for byte (a file larger than one read slice)', async () => {
  const files = fixtureFiles();
  const big = Buffer.alloc(9 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
  files.set('extra/big.bin', big);
  files.set('empty.txt', Buffer.alloc(0));
  const m = await createTenantModelVersion(db, {
    tenantId,
    name: 'cached',
    files: withName(files, 'cached'),
    source: 'upload',
  });
  const root = mkdtempSync(path.join(os.tmpdir(), 'tenant-model-cache-test-'));
  try {
    const cache = new TenantModelCache(db.pool, root);
    const local = await cache.materialise(m.id);
    expect(local).toMatchObject({ name: 'cached', version: 1, key: `cached@1~${m.id}` });
    expect(path.basename(local.dir)).toBe(`${m.id}-${m.contentHash.slice(0, 16)}`);
    for (const [p, data] of withName(files, 'cached')) {
      expect([p, readFileSync(path.join(local.dir, p)).equals(data)]).toEqual([p, true]);
    }
    await db.pool.query(`DELETE FROM tenant_models WHERE id = $1`, [m.id]);
    await expect(cache.materialise(m.id)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    expect(readdirSync(root)).toEqual([]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

function withName(files: Map<string, Buffer>, name: string): Map<string, Buffer> {
  const c = JSON.parse(files.get('config.json')!.toString()) as Record<string, unknown>;
  return new Map(files).set('config.json', Buffer.from(JSON.stringify({ ...c, name })));
}
