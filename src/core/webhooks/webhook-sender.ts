import type https from 'node:https';
import type { Pool } from 'pg';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { beginAttempt, completeAttempt } from './delivery-store';
import type { NextState } from './delivery-store';
import { postWebhook } from './http-sender';
import type { HttpAttemptResult } from './http-sender';
import { webhookAttemptDuration, webhookAttemptsTotal, webhookDeliveriesTotal } from './metrics';
import { nextState } from './retry-policy';
import type { AttemptKind, RetryPolicy } from './retry-policy';
import { signingSecrets } from './secrets';
import { signWebhook } from '@docbatch/sdk';
import { resolveWebhookTarget, UnresolvableHostError, WebhookAllowlist } from './url-policy';
import type { HostResolver } from './url-policy';

export interface WebhookSenderOptions extends RetryPolicy {
  /** Whole-request timeout, ms (config `WEBHOOK_TIMEOUT_MS`, default 15000). */
  timeoutMs: number;
  /** Hosts and CIDRs exempt from the SSRF rules (config `WEBHOOK_ALLOWLIST`). */
  allowlist: readonly string[];
  /**
   * How long past the request timeout an attempt holds its delivery, ms; if the worker dies
   * mid-attempt the delivery is retried after timeout + this. Default 10000.
   */
  holdMarginMs?: number;
  /** Host name resolver (tests). Default `dns.lookup` with all addresses. */
  resolve?: HostResolver;
  /** Extra TLS options for https targets (tests pass a CA). Default: none. */
  tls?: https.RequestOptions;
}

/** What one attempt did. */
export interface AttemptReport {
  deliveryId: string;
  attempt: number;
  /** `stale`: the job was a duplicate or out of date and nothing was sent. */
  kind: AttemptKind | 'stale';
  statusCode: number | null;
  next: NextState | null;
}

/**
 * Makes one delivery attempt: starts it in Postgres (so a duplicate job sends nothing), checks
 * the URL against the SSRF policy again and pins the resolved address, signs with the tenant's
 * current (and, during a rotation grace period, previous) secret, POSTs, and records the result
 * and the next state in one transaction.
 */
export class WebhookSender {
  private readonly allowlist: WebhookAllowlist;

  constructor(
    private readonly pool: Pool,
    private readonly opts: WebhookSenderOptions,
    private readonly logger: Logger,
  ) {
    this.allowlist = new WebhookAllowlist(opts.allowlist);
  }

  async attempt(deliveryId: string, attempt: number): Promise<AttemptReport> {
    const holdMs = this.opts.timeoutMs + (this.opts.holdMarginMs ?? 10_000);
    const ctx = await beginAttempt(this.pool, deliveryId, attempt, holdMs);
    if (!ctx) return { deliveryId, attempt, kind: 'stale', statusCode: null, next: null };
    const log = this.logger.child({
      deliveryId,
      ...(ctx.batch_id ? { batchId: ctx.batch_id } : { trainingJobId: ctx.training_job_id }),
      attempt,
    });

    const result = await this.send(ctx.url, ctx.id, ctx.payload, signingSecrets(ctx));
    const next = nextState(result, ctx.attemptInSeries, this.opts);
    webhookAttemptsTotal.inc({ result: result.kind });
    webhookAttemptDuration.observe({ result: result.kind }, result.latencyMs / 1000);

    const recorded = await completeAttempt(
      this.pool,
      ctx.id,
      ctx.attempt,
      { statusCode: result.statusCode, latencyMs: result.latencyMs, error: result.error },
      next,
    );
    if (!recorded) {
      log.warn('webhook attempt finished after it was recorded as interrupted; result dropped');
      return { deliveryId, attempt, kind: result.kind, statusCode: result.statusCode, next: null };
    }
    if (next.status !== 'pending') webhookDeliveriesTotal.inc({ outcome: next.status });
    const fields = {
      event: ctx.event_type,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      result: result.kind,
      next: next.status,
      ...(next.status === 'pending' ? { retryInMs: next.delayMs } : {}),
    };
    if (result.kind === 'success') log.info(fields, 'webhook delivered');
    else log.warn({ ...fields, error: result.error }, 'webhook attempt failed');
    return { deliveryId, attempt, kind: result.kind, statusCode: result.statusCode, next };
  }

  private async send(
    url: string,
    id: string,
    payload: string,
    secrets: string[],
  ): Promise<Omit<HttpAttemptResult, 'kind'> & { kind: AttemptKind }> {
    const started = Date.now();
    let target;
    try {
      target = await resolveWebhookTarget(url, this.allowlist, { resolve: this.opts.resolve });
    } catch (err) {
      const latencyMs = Date.now() - started;
      if (err instanceof UnresolvableHostError)
        return {
          statusCode: null,
          retryAfterSec: null,
          latencyMs,
          error: 'host name does not resolve',
          kind: 'network_error',
        };
      if (err instanceof AppError)
        return {
          statusCode: null,
          retryAfterSec: null,
          latencyMs,
          error: `refused: ${err.message}`,
          kind: 'refused',
        };
      throw err;
    }
    const headers = signWebhook(secrets, id, payload);
    return postWebhook(target, { ...headers }, payload, {
      timeoutMs: this.opts.timeoutMs,
      tls: this.opts.tls,
    });
  }
}
