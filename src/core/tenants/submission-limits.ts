import type { Redis } from 'ioredis';
import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';

/** The two per-tenant limits on batch submissions. */
export interface SubmissionLimitOptions {
  /** Submissions allowed per tenant per minute (`RATE_LIMIT_PER_MINUTE`). */
  perMinute: number;
  /** Batches a tenant may have `queued`, `running` or `cancelling` at once (`MAX_ACTIVE_BATCHES`). */
  maxActive: number;
  /** Redis key prefix (the BullMQ prefix), so several deployments share one Redis. */
  prefix: string;
}

const WINDOW_MS = 60_000;

/**
 * Per-tenant submission limits:
 * - a fixed one-minute window counter in Redis (`<prefix>:ratelimit:<tenant>:<window>`, INCR +
 *   PEXPIRE in one MULTI); over the limit -> 429 `RATE_LIMITED` with `Retry-After` = seconds until
 *   the window ends. Every submission attempt counts, accepted or not.
 * - a cap on active batches, counted in Postgres (index `batches_tenant_status_created_idx`);
 *   at the cap -> 429 `TOO_MANY_ACTIVE_BATCHES`. Checked before the body is read and again inside
 *   the creating transaction under a per-tenant advisory lock, so concurrent uploads cannot overshoot.
 */
export class SubmissionLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly opts: SubmissionLimitOptions,
  ) {}

  /** Counts one submission; throws RATE_LIMITED when the tenant is over its per-minute budget. */
  async take(tenantId: string, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS);
    const key = `${this.opts.prefix}:ratelimit:${tenantId}:${window}`;
    const res = await this.redis
      .multi()
      .incr(key)
      .pexpire(key, WINDOW_MS * 2)
      .exec();
    const first = res?.[0];
    if (!first || first[0]) throw first?.[0] ?? new Error('rate limit MULTI returned no result');
    const count = Number(first[1]);
    if (count > this.opts.perMinute) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
      throw new AppError(
        'RATE_LIMITED',
        `Too many batch submissions: the limit is ${this.opts.perMinute} per minute. Retry in ${retryAfter} s.`,
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
  }

  /** Throws TOO_MANY_ACTIVE_BATCHES when the tenant has `maxActive` active batches (seen by `q`). */
  async assertActiveBelowCap(q: Queryable, tenantId: string, includingOwn = false): Promise<void> {
    const res = await q.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM batches WHERE tenant_id = $1 AND status IN ('queued', 'running', 'cancelling') LIMIT $2
       ) s`,
      [tenantId, this.opts.maxActive + 1],
    );
    const n = res.rows[0]?.n ?? 0;
    const limit = includingOwn ? this.opts.maxActive + 1 : this.opts.maxActive;
    if (n >= limit) {
      throw new AppError(
        'TOO_MANY_ACTIVE_BATCHES',
        `Too many active batches: at most ${this.opts.maxActive} may be queued or running at once. ` +
          'Wait for one to finish or cancel one.',
        undefined,
        { 'Retry-After': '30' },
      );
    }
  }
}
