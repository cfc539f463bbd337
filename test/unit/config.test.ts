import { loadConfig } from '../../src/core/config';
import { ConfigError } from '../../src/core/errors';

describe('config', () => {
  it('has defaults that work with local Postgres and Redis', () => {
    const c = loadConfig('api', {});
    expect(c.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/docbatch');
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.PORT).toBe(3000);
    expect(c.HOST).toBe('0.0.0.0');
    expect(c.QUEUE_PREFIX).toBe('docbatch');
    expect(c.MAX_DOCS_PER_BATCH).toBe(1_000_000);
    expect(c.MAX_DOC_CHARS).toBe(100_000);
    expect(c.WEBHOOK_RETRY_SCHEDULE).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(loadConfig('worker', {}).WORKER_CONCURRENCY).toBe(8);
  });

  it('names the bad variable', () => {
    expect(() => loadConfig('api', { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig('api', { PORT: 'eighty' })).toThrow(/PORT="eighty"/);
    expect(() => loadConfig('worker', { TF_BACKEND: 'tpu' })).toThrow(/TF_BACKEND="tpu"/);
    expect(() => loadConfig('api', { DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig('api', { WEBHOOK_RETRY_SCHEDULE: '5,x' })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
  });

  it('parses lists and booleans', () => {
    const c = loadConfig('api', {
      WEBHOOK_ALLOWLIST: '127.0.0.1/32, example.test',
      BULL_BOARD_READ_ONLY: 'true',
    });
    expect(c.WEBHOOK_ALLOWLIST).toEqual(['127.0.0.1/32', 'example.test']);
    expect(c.BULL_BOARD_READ_ONLY).toBe(true);
  });
});
