import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { adminUrl, TEMPLATE_ENV, testBaseUrl, TEST_REDIS_URL } from './test-env';

/**
 * Per-test-file isolation: a database cloned from the migrated template and a BullMQ prefix of
 * its own. `cleanup()` drops the database and deletes the prefix's Redis keys.
 */
export interface TestEnvironment {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** The environment a spawned docbatch process needs to use this isolation. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestEnvironment(): Promise<TestEnvironment> {
  const template = process.env[TEMPLATE_ENV];
  if (!template) throw new Error('integration test setup did not run (jest globalSetup)');
  const id = randomBytes(6).toString('hex');
  const dbName = `docbatch_t_${id}`;
  await withAdmin(async (c) => {
    // CREATE DATABASE ... TEMPLATE fails if another session is connected to the template at that
    // instant (another file being cloned): retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE "${dbName}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  });
  const databaseUrl = testBaseUrl(dbName);
  const queuePrefix = `test-${id}`;
  return {
    databaseUrl,
    redisUrl: TEST_REDIS_URL,
    queuePrefix,
    env: { DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: queuePrefix },
    async cleanup() {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
