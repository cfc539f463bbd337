import { Queue } from 'bullmq';
import { ApiServer } from '../../src/api/server';
import { loadConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import { createLogger } from '../../src/core/logger';
import { chunkQueueName } from '../../src/core/queue/catalog';
import { createRedis } from '../../src/core/redis';
import { createTenantWithKey } from '../../src/core/tenants';
import type { Task } from '../../src/core/models/types';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';

/** Shared setup of the API integration tests: an isolated database + prefix and a live ApiServer. */
export interface ApiHarness {
  env: TestEnvironment;
  api: ApiServer;
  url: string;
  db: Database;
  /** API key of tenant "acme". */
  key: string;
  tenantId: string;
  /** Creates another tenant and returns its key. */
  newTenant(name: string): Promise<{ key: string; tenantId: string }>;
  /** Jobs currently in a task's chunk queue (any state). */
  chunkJobs(task: Task): Promise<{ id: string; data: unknown; priority: number; attempts: number }[]>;
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startApi(
  overrides: Record<string, string> = {},
  env?: TestEnvironment,
): Promise<ApiHarness> {
  const testEnv = env ?? (await createTestEnvironment());
  const config = loadConfig('api', {
    ...testEnv.env,
    PORT: '0',
    HOST: '127.0.0.1',
    TF_BACKEND: 'cpu',
    RATE_LIMIT_PER_MINUTE: '100000',
    MAX_ACTIVE_TRAINING_JOBS: '100',
    ...overrides,
  });
  const api = new ApiServer(config, createLogger('silent'));
  await api.start();
  const db = new Database(testEnv.databaseUrl, 4);
  const acme = await createTenantWithKey(db, 'acme');
  const url = `http://127.0.0.1:${api.port}`;
  const redis = createRedis(testEnv.redisUrl);
  const queues = new Map<string, Queue>();
  const harness: ApiHarness = {
    env: testEnv,
    api,
    url,
    db,
    key: acme.api_key,
    tenantId: acme.tenant.id,
    async newTenant(name) {
      const t = await createTenantWithKey(db, name);
      return { key: t.api_key, tenantId: t.tenant.id };
    },
    async chunkJobs(task) {
      const name = chunkQueueName(task);
      let q = queues.get(name);
      if (!q) {
        q = new Queue(name, { connection: redis, prefix: testEnv.queuePrefix });
        queues.set(name, q);
      }
      const jobs = await q.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
      return jobs.map((j) => ({
        id: j.id as string,
        data: j.data as unknown,
        priority: j.opts.priority ?? 0,
        attempts: j.opts.attempts ?? 0,
      }));
    },
    request(path, init = {}) {
      const { key, ...rest } = init;
      const headers = new Headers(rest.headers);
      const k = key === undefined ? acme.api_key : key;
      if (k !== null) headers.set('authorization', `Bearer ${k}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
    async stop() {
      await api.stop();
      for (const q of queues.values()) await q.close();
      redis.disconnect();
      await db.close();
      if (!env) await testEnv.cleanup();
    },
  };
  return harness;
}

/** NDJSON body of `n` documents (`id` d1..dn unless `ids` is false). */
export function ndjson(n: number, opts: { ids?: boolean; text?: (i: number) => string } = {}): string {
  let out = '';
  for (let i = 1; i <= n; i++) {
    const doc: Record<string, unknown> = {
      text: opts.text ? opts.text(i) : `Document number ${i}. It has two sentences.`,
    };
    if (opts.ids !== false) doc.id = `d${i}`;
    out += JSON.stringify(doc) + '\n';
  }
  return out;
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
