import type { Queue } from 'bullmq';
import type { Pool } from 'pg';
import type { Logger } from '../core/logger';
import { webhookJobId } from '../core/queue/catalog';
import type { WebhookJob } from '../core/queue/catalog';
import {
  claimDueDeliveries,
  recoverInterruptedAttempts,
  releaseClaim,
} from '../core/webhooks/delivery-store';
import { webhookAttemptsTotal, webhookDeliveriesTotal } from '../core/webhooks/metrics';

export interface WebhookRelayOptions {
  /** Pause between passes when nothing was due, ms (config `WEBHOOK_RELAY_INTERVAL_MS`). */
  intervalMs: number;
  /** Attempts one series makes at most (retry schedule length + 1). */
  maxAttemptsPerSeries: number;
  /** How long a claimed delivery waits for its job before the relay claims it again, ms. Default 60000. */
  leaseMs?: number;
  /** Deliveries claimed per query. Default 100. */
  batchSize?: number;
}

/**
 * The outbox relay: moves due webhook deliveries from Postgres to the `webhooks` BullMQ queue.
 * Each pass logs interrupted attempts (their worker died), claims due rows (FOR UPDATE SKIP
 * LOCKED, so several workers share the work) and enqueues one job per row with the deterministic
 * id `{deliveryId}-a{attempt}`, so a row relayed twice still yields one job. `start()`/`stop()`
 * are idempotent; `stop()` waits for the pass in progress.
 */
export class WebhookRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private wake?: () => void;
  private failingSince?: number;
  private lastFailureLog = 0;

  constructor(
    private readonly pool: Pool,
    private readonly queue: Queue,
    private readonly opts: WebhookRelayOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let more = false;
      try {
        more = await this.pass();
        if (this.failingSince !== undefined) {
          this.logger.info({ downMs: Date.now() - this.failingSince }, 'webhook relay recovered');
          this.failingSince = undefined;
        }
      } catch (err) {
        // Postgres or Redis is down: log the first failure and then once a minute, not every pass.
        const now = Date.now();
        this.failingSince ??= now;
        if (now - this.lastFailureLog >= 60_000) {
          this.lastFailureLog = now;
          this.logger.warn(
            { err: { message: (err as Error).message } },
            'webhook relay pass failed; retrying',
          );
        }
      }
      if (this.stopped) break;
      if (more) continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.opts.intervalMs);
      });
    }
  }

  /** One pass; true when a full batch was claimed (more may be due). */
  async pass(): Promise<boolean> {
    const recovered = await recoverInterruptedAttempts(this.pool, this.opts.maxAttemptsPerSeries);
    if (recovered.recovered.length > 0) {
      webhookAttemptsTotal.inc({ result: 'interrupted' }, recovered.recovered.length);
      if (recovered.failed.length > 0)
        webhookDeliveriesTotal.inc({ outcome: 'failed' }, recovered.failed.length);
      this.logger.warn(
        { deliveries: recovered.recovered, failed: recovered.failed },
        'webhook attempts interrupted by a stopped worker; retrying',
      );
    }
    const batchSize = this.opts.batchSize ?? 100;
    const claimed = await claimDueDeliveries(this.pool, batchSize, this.opts.leaseMs ?? 60_000);
    if (claimed.length === 0) return false;
    try {
      await this.queue.addBulk(
        claimed.map((c) => ({
          name: 'deliver',
          data: { deliveryId: c.id, attempt: c.attempt } satisfies WebhookJob,
          opts: {
            jobId: webhookJobId(c.id, c.attempt),
            attempts: 1,
            // The id only has to dedupe while the job waits or runs; Postgres guards the rest
            // (a finished job kept here would swallow a later legitimate job with the same id).
            removeOnComplete: true,
            removeOnFail: true,
          },
        })),
      );
    } catch (err) {
      // Redis is down: give the rows back so the next pass (here or in another worker) retries.
      await Promise.all(claimed.map((c) => releaseClaim(this.pool, c.id).catch(() => undefined)));
      throw err;
    }
    this.logger.debug({ count: claimed.length }, 'webhook deliveries relayed');
    return claimed.length === batchSize;
  }
}
