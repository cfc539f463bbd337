import type { Redis } from 'ioredis';
import { escapeLiteral } from 'pg';
import type { SqlClient } from '../db/queryable';
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

/** Batch statuses that count against `MAX_ACTIVE_BATCHES`, as an SQL list. */
export const ACTIVE_STATUSES_SQL = `('queued', 'running', 'cancelling')`;

/** Advisory lock class of the per-tenant active-cap lock: `pg_advisory_xact_lock(727001, hashtext(tenant id))`. */
export const ACTIVE_CAP_LOCK_CLASS = 727001;
/** SQLSTATE the commit-time cap check raises (user-defined class `DB`). */
const ACTIVE_CAP_SQLSTATE = 'DBA01';
/** Tenant ids are generated (`ten_<base36>`); anything else is refused before it reaches SQL text. */
const TENANT_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Per-tenant submission limits:
 * - a fixed one-minute window counter in Redis (`<prefix>:ratelimit:<tenant>:<window>`, INCR +
 *   PEXPIRE in one MULTI); over the limit -> 429 `RATE_LIMITED` with `Retry-After` = seconds until
 *   the window ends. Every submission attempt counts, accepted or not.
 * - a cap on active batches, counted in Postgres (index `batches_tenant_status_created_idx`);
 *   at the cap -> 429 `TOO_MANY_ACTIVE_BATCHES`. Checked before the body is read (on a count the
 *   caller reads, {@link assertBelowCap}) and again as the creating transaction commits, under a
 *   per-tenant advisory lock, so concurrent uploads cannot overshoot ({@link commitBelowCap}).
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
        `Too many submissions (batches and training jobs): the limit is ${this.opts.perMinute} per minute. Retry in ${retryAfter} s.`,
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
  }

  /**
   * How far an active-batch count needs to go: `SELECT 1 ... LIMIT countLimit` is enough to tell
   * whether the tenant is at its cap (a count never reads more rows than this).
   */
  get countLimit(): number {
    return this.opts.maxActive + 1;
  }

  /**
   * Throws TOO_MANY_ACTIVE_BATCHES when `active` (the tenant's active batches, counted with
   * `ACTIVE_STATUSES_SQL` and `LIMIT countLimit`) is at the cap. The check before the body is read.
   */
  assertBelowCap(active: number): void {
    if (active >= this.opts.maxActive) throw this.capError();
  }

  /**
   * Commits the creating transaction on `client` unless the tenant would then have more than
   * `maxActive` active batches (the transaction's own batch counts). The per-tenant advisory lock
   * serializes these commits, so two uploads cannot both take the last place. Lock, count and
   * COMMIT go to Postgres as one simple-protocol query: the lock is held only while Postgres counts
   * and commits, never across a round trip to this process, which under load (a busy event loop,
   * a busy CPU) would make every submission of the tenant wait for the others one by one.
   * (Each statement of the query takes its own snapshot, so the count sees every batch committed
   * by the previous lock holder.) `beforeCommitSql` (no parameters) runs after the check, before
   * COMMIT, in the same round trip (the batch's usage row). Over the cap: throws TOO_MANY_ACTIVE_BATCHES, the COMMIT does
   * not run and the transaction is left aborted: discard the connection or roll back.
   */
  async commitBelowCap(client: SqlClient, tenantId: string, beforeCommitSql?: string): Promise<void> {
    if (!TENANT_ID_RE.test(tenantId)) throw new Error(`unexpected tenant id ${JSON.stringify(tenantId)}`);
    const tenant = escapeLiteral(tenantId);
    const sql = `SELECT pg_advisory_xact_lock(${ACTIVE_CAP_LOCK_CLASS}, hashtext(${tenant}));
DO $cap$ BEGIN
  IF (SELECT count(*) FROM (
        SELECT 1 FROM batches WHERE tenant_id = ${tenant} AND status IN ${ACTIVE_STATUSES_SQL} LIMIT ${this.countLimit}
      ) s) > ${this.opts.maxActive} THEN
    RAISE EXCEPTION 'active batch cap reached' USING ERRCODE = '${ACTIVE_CAP_SQLSTATE}';
  END IF;
END $cap$;${beforeCommitSql ? `\n${beforeCommitSql};` : ''}
COMMIT`;
    try {
      await client.query(sql);
    } catch (err) {
      if ((err as { code?: string }).code === ACTIVE_CAP_SQLSTATE) throw this.capError();
      throw err;
    }
  }

  private capError(): AppError {
    return new AppError(
      'TOO_MANY_ACTIVE_BATCHES',
      `Too many active batches: at most ${this.opts.maxActive} may be queued or running at once. ` +
        'Wait for one to finish or cancel one.',
      undefined,
      { 'Retry-After': '30' },
    );
  }
}
