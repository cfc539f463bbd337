import type { Redis } from 'ioredis';

/**
 * A lease in Redis (`SET key owner NX PX ttl`): at most one holder at a time, renewed by the holder,
 * taken over by another process once the holder stops renewing (killed) or the key disappears
 * (Redis flushed). Used so that one worker, not all, runs the periodic maintenance.
 */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class LeaderLock {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; true when this owner holds it. */
  async acquire(): Promise<boolean> {
    const renewed = (await this.redis.eval(RENEW, 1, this.key, this.owner, String(this.ttlMs))) as number;
    if (renewed === 1) return true;
    const set = await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX');
    return set === 'OK';
  }

  /** Gives the lease up if held. */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }
}
