import type { Express } from 'express';
import { createApp } from '../../src/api/app';
import { toBatchObject } from '../../src/core/batches';
import { loadOpenApiDocument } from '../../src/api/routes/openapi';
import { loadConfig } from '../../src/core/config';
import { toOpenAiBatch } from '../../src/core/openai';
import { toFileObject } from '../../src/core/openai/file-store';
import { Database } from '../../src/core/db/database';
import { createLogger } from '../../src/core/logger';
import { QueueSet } from '../../src/core/queue/queues';
import { createRedis } from '../../src/core/redis';

/**
 * The OpenAPI document (openapi/openapi.json) and the Express app agree: every route registered in
 * the router stack is documented, and every documented operation is a registered route. The
 * dashboard (/admin, an HTML UI, and the JSON its pages poll) is left out; the admin API under
 * /admin/api/tenants and /admin/api/keys is in.
 */

interface StackLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: StackLayer[] };
  rawPath?: string | string[];
  name?: string;
}

function joinPath(prefix: string, p: string): string {
  const joined = `${prefix.replace(/\/$/, '')}/${p.replace(/^\//, '')}`;
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** Every (METHOD path) in an Express 5 router stack, paths in OpenAPI syntax ({param}). */
function expressRoutes(stack: StackLayer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        for (const [m, on] of Object.entries(layer.route.methods)) {
          if (on && m !== '_all')
            out.push(`${m.toUpperCase()} ${joinPath(prefix, p).replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
        }
      }
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' ? layer.rawPath : '/';
      out.push(...expressRoutes(layer.handle.stack, joinPath(prefix, mount)));
    }
  }
  return out;
}

function documentedRoutes(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  return Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops)
      .filter((m) => methods.includes(m))
      .map((m) => `${m.toUpperCase()} ${p}`),
  );
}

let app: Express;
let db: Database;
let queues: QueueSet;
let redis: ReturnType<typeof createRedis>;

beforeAll(() => {
  const config = loadConfig('api', {
    PORT: '0',
    QUEUE_PREFIX: `openapi-${process.pid}`,
    // The admin API is only mounted when the dashboard is on.
    ADMIN_TOKEN: 'openapi-test-admin-token',
  });
  db = new Database(config.DATABASE_URL, 1);
  redis = createRedis(config.REDIS_URL, 'client', { lazyConnect: true });
  queues = new QueueSet(createRedis(config.REDIS_URL, 'client', { lazyConnect: true }), config.QUEUE_PREFIX);
  app = createApp({ config, db, redis, queues, logger: createLogger('silent') });
});
afterAll(async () => {
  await queues.close();
  redis.disconnect();
  await db.close();
});

describe('OpenAPI document', () => {
  it('documents exactly the routes the app registers', () => {
    const stack = (app as unknown as { router: { stack: StackLayer[] } }).router.stack;
    // The admin API (tenants, keys, webhook secrets, usage) is documented; the dashboard's pages and the
    // JSON endpoints its pages poll are not.
    const adminApi = / \/admin\/api\/(tenants|keys|usage)(\/|$)/;
    const registered = [...new Set(expressRoutes(stack))]
      .filter((r) => adminApi.test(r) || !/ \/admin(\/|$)/.test(r))
      .sort();
    const documented = documentedRoutes(loadOpenApiDocument() as never).sort();
    expect(registered).toContain('POST /v1/batches');
    expect(registered).toContain('GET /v1/batches/{id}/webhook_deliveries');
    expect(registered).toContain('POST /admin/api/tenants/{tenant}/webhook_secret/rotate');
    expect(documented).toEqual(registered);
  });

  it('is OpenAPI 3.1 with the component schemas clients rely on, and every $ref resolves', () => {
    const doc = loadOpenApiDocument() as {
      openapi: string;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const name of [
      'Batch',
      'List',
      'BatchList',
      'ResultLine',
      'ResultList',
      'Document',
      'Error',
      'Model',
      'ModelList',
      'WebhookDelivery',
    ]) {
      expect(doc.components.schemas[name]).toBeDefined();
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) {
      const pointer = r.slice(9, -1).split('/').slice(1);
      let cur: unknown = doc;
      for (const part of pointer) cur = (cur as Record<string, unknown> | undefined)?.[part];
      expect({ ref: r, resolved: cur !== undefined }).toEqual({ ref: r, resolved: true });
    }
    const errorCodes = (doc.components.schemas.ErrorCode as { enum: string[] }).enum;
    for (const code of [
      'UNAUTHORIZED',
      'NOT_FOUND',
      'INVALID_REQUEST',
      'INVALID_DOCUMENT',
      'DUPLICATE_DOCUMENT_ID',
      'UNKNOWN_TASK',
      'UNKNOWN_MODEL',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'IDEMPOTENCY_KEY_REUSED',
      'BATCH_FINISHED',
      'RATE_LIMITED',
      'UNAVAILABLE',
    ]) {
      expect(errorCodes).toContain(code);
    }
  });

  it('lists the properties the API actually returns for a batch', () => {
    const doc = loadOpenApiDocument() as { components: { schemas: { Batch: { required: string[] } } } };
    const now = new Date();
    const sample = toBatchObject({
      id: 'bat_1',
      tenant_id: 't',
      task: 'classification',
      model: 'm@1',
      options: {},
      metadata: {},
      priority: 5,
      webhook_url: null,
      status: 'queued',
      error: null,
      completion_window: '24h',
      total: 1,
      queued_count: 1,
      running_count: 0,
      completed_count: 0,
      failed_count: 0,
      cancelled_count: 0,
      expired_count: 0,
      chunk_count: 1,
      created_at: now,
      started_at: null,
      finished_at: null,
      expires_at: now,
    });
    expect(Object.keys(sample).sort()).toEqual([...doc.components.schemas.Batch.required].sort());
  });

  it('lists the properties the OpenAI surface returns for a batch and a file', () => {
    const doc = loadOpenApiDocument() as {
      components: { schemas: Record<string, { required: string[] }> };
    };
    const now = new Date();
    const batch = toOpenAiBatch({
      id: 'bat_1',
      tenant_id: 't',
      batch_id: 'bat_1',
      input_file_id: 'file-1',
      endpoint: '/v1/classifications',
      completion_window: '24h',
      metadata: null,
      errors: null,
      created_at: now,
      failed_at: null,
      cancelling_at: null,
      output_file_id: null,
      error_file_id: null,
      files_written_at: null,
      b_task: 'classification',
      b_model: 'm@1',
      b_status: 'running',
      b_error: null,
      b_total: 1,
      b_completed: 0,
      b_failed: 0,
      b_cancelled: 0,
      b_expired: 0,
      b_created_at: now,
      b_finished_at: null,
      b_expires_at: now,
    });
    expect(Object.keys(batch).sort()).toEqual(
      [...(doc.components.schemas.OpenAiBatch?.required ?? [])].sort(),
    );
    const file = toFileObject({
      id: 'file-1',
      tenant_id: 't',
      purpose: 'batch',
      filename: 'a.jsonl',
      bytes: '10',
      created_at: now,
    });
    expect(Object.keys(file).sort()).toEqual([...(doc.components.schemas.OpenAiFile?.required ?? [])].sort());
  });
});
