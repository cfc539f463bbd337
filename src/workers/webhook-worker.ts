import { Queue, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { WorkerConfig } from '../core/config';
import type { Logger } from '../core/logger';
import { WEBHOOK_QUEUE, webhookJobSchema } from '../core/queue/catalog';
import { createRedis } from '../core/redis';
import { maxAttemptsPerSeries } from '../core/webhooks/retry-policy';
import { WebhookSender } from '../core/webhooks/webhook-sender';
import type { WebhookSenderOptions } from '../core/webhooks/webhook-sender';
import { WebhookRelay } from './webhook-relay';

/** The configuration the webhook worker reads. */
export type WebhookWorkerConfig = Pick<
  WorkerConfig,
  | 'REDIS_URL'
  | 'QUEUE_PREFIX'
  | 'WEBHOOK_ALLOWLIST'
  | 'WEBHOOK_RETRY_SCHEDULE'
  | 'WEBHOOK_TIMEOUT_MS'
  | 'WEBHOOK_CONCURRENCY'
  | 'WEBHOOK_RELAY_INTERVAL_MS'
  | 'WEBHOOK_RETRY_AFTER_MAX_S'
>;

export interface WebhookWorkerOptions {
  /** Postgres pool (owned by the caller). */
  pool: Pool;
  config: WebhookWorkerConfig;
  logger: Logger;
  /** Sender overrides (tests: resolver, TLS CA, hold margin). Default: none. */
  sender?: Partial<Pick<WebhookSenderOptions, 'resolve' | 'tls' | 'holdMarginMs'>>;
  /** Relay claim lease, ms. Default 60000. */
  relayLeaseMs?: number;
  /** BullMQ lock duration of an active webhook job, ms. Default: timeout + 15000. */
  lockDurationMs?: number;
}

/**
 * The webhook part of a worker process: the outbox relay (Postgres -> `webhooks` queue) and a
 * BullMQ worker that makes one delivery attempt per job. Owns its two Redis connections.
 * `start()`/`stop()` are idempotent; `stop()` finishes the attempts in flight.
 */
export class WebhookWorker {
  private redis?: Redis;
  private workerRedis?: Redis;
  private queue?: Queue;
  private worker?: Worker;
  private relay?: WebhookRelay;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(private readonly opts: WebhookWorkerOptions) {}

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { config, logger, pool } = this.opts;
    const log = logger.child({ worker: 'webhooks' });
    const sender = new WebhookSender(
      pool,
      {
        schedule: config.WEBHOOK_RETRY_SCHEDULE,
        retryAfterMaxSec: config.WEBHOOK_RETRY_AFTER_MAX_S,
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        allowlist: config.WEBHOOK_ALLOWLIST,
        ...this.opts.sender,
      },
      log,
    );
    this.redis = createRedis(config.REDIS_URL, 'client');
    this.workerRedis = createRedis(config.REDIS_URL, 'worker');
    this.queue = new Queue(WEBHOOK_QUEUE, { connection: this.redis, prefix: config.QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
    this.worker = new Worker(
      WEBHOOK_QUEUE,
      async (job: Job) => {
        const parsed = webhookJobSchema.safeParse(job.data);
        if (!parsed.success) {
          log.error({ jobId: job.id }, 'malformed webhook job dropped');
          return;
        }
        await sender.attempt(parsed.data.deliveryId, parsed.data.attempt);
      },
      {
        connection: this.workerRedis,
        prefix: config.QUEUE_PREFIX,
        concurrency: config.WEBHOOK_CONCURRENCY,
        lockDuration: this.opts.lockDurationMs ?? config.WEBHOOK_TIMEOUT_MS + 15_000,
      },
    );
    this.worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'webhook worker error'));
    this.worker.on('failed', (job, err) =>
      log.warn(
        { jobId: job?.id, err: { message: err.message } },
        'webhook job failed; the relay will retry it',
      ),
    );
    this.relay = new WebhookRelay(
      pool,
      this.queue,
      {
        intervalMs: config.WEBHOOK_RELAY_INTERVAL_MS,
        maxAttemptsPerSeries: maxAttemptsPerSeries(config.WEBHOOK_RETRY_SCHEDULE),
        leaseMs: this.opts.relayLeaseMs,
      },
      log,
    );
    this.relay.start();
    log.info({ concurrency: config.WEBHOOK_CONCURRENCY }, 'webhook worker started');
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.relay?.stop();
    await this.worker?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    this.redis?.disconnect();
    this.workerRedis?.disconnect();
    this.opts.logger.info({ worker: 'webhooks' }, 'webhook worker stopped');
  }
}
