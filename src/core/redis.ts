import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/**
 * Redis connections. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must
 * wait across reconnects); producers and health checks fail fast instead, so the API answers 503
 * rather than hanging while Redis is down.
 */
export function createRedis(
  url: string,
  kind: 'worker' | 'client' = 'client',
  extra: RedisOptions = {},
): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: kind === 'worker' ? null : 1,
    enableOfflineQueue: kind === 'worker',
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
  // Connection errors surface on commands; without a listener ioredis would log them as unhandled.
  redis.on('error', () => undefined);
  return redis;
}
