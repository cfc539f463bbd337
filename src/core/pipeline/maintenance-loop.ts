import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { retentionSweep } from '../batches/retention';
import { openAiRetentionSweep } from '../openai/openai-retention';
import type { Logger } from '../logger';
import type { QueueSet } from '../queue/queues';
import { expireBatches } from './expiry';
import { LeaderLock } from './leader-lock';
import { reconcileRequeued } from './pipeline-metrics';
import { reconcile } from './reconciler';

/**
 * Periodic maintenance of a worker process: every `intervalMs`, the worker that holds the leader
 * lease (one per deployment) runs the expiry sweep, the reconciler, and the retention sweep
 * (deleted batches' rows, and batches past `RETENTION_DAYS`, removed in bounded transactions for at
 * most half an interval per tick). Redis being flushed loses the lease key too; the next tick takes
 * it again, so no scheduled job has to survive (and no BullMQ queue is needed for it).
 */
export interface MaintenanceOptions {
  /** `RECONCILE_INTERVAL_MS`. */
  intervalMs: number;
  chunkSize: number;
  attempts: number;
  /** Batches younger than this are not reconciled, ms. Default: `intervalMs`. */
  minAgeMs?: number;
  /** `RETENTION_DAYS`: finished batches older than this are deleted; 0 keeps them. Default 0. */
  retentionDays?: number;
  /** Time the retention sweep may take per tick, ms. Default: half of `intervalMs`, at least 1 s. */
  retentionBudgetMs?: number;
  /** Documents per DELETE transaction of the retention sweep. Default 5,000. */
  purgeChunkDocuments?: number;
}

export class MaintenanceLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private readonly lock: LeaderLock;

  constructor(
    private readonly pool: Pool,
    redis: Redis,
    private readonly queues: QueueSet,
    prefix: string,
    workerId: string,
    private readonly options: MaintenanceOptions,
    private readonly logger: Logger,
  ) {
    this.lock = new LeaderLock(
      redis,
      `${prefix}:maintenance:leader`,
      workerId,
      Math.max(3 * options.intervalMs, 5_000),
    );
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.logger.warn({ err: { message: (err as Error).message } }, 'maintenance failed'),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, Math.min(1_000, this.options.intervalMs));
  }

  /** One pass if this worker is the leader; returns whether it ran. */
  async runOnce(): Promise<boolean> {
    if (!(await this.lock.acquire())) return false;
    const expired = await expireBatches(this.pool);
    if (expired.finalized.length > 0 || expired.documents > 0) {
      this.logger.info({ batches: expired.finalized, documents: expired.documents }, 'expiry sweep');
    }
    const r = await reconcile(this.pool, this.queues, {
      chunkSize: this.options.chunkSize,
      attempts: this.options.attempts,
      minAgeMs: this.options.minAgeMs ?? this.options.intervalMs,
    });
    if (r.jobs > 0) {
      reconcileRequeued.inc(r.documents);
      this.logger.warn(r, 'reconciler re-enqueued documents no live job covered');
    }
    const kept = await retentionSweep(this.pool, {
      retentionDays: this.options.retentionDays ?? 0,
      budgetMs: this.options.retentionBudgetMs ?? Math.max(1_000, Math.floor(this.options.intervalMs / 2)),
      chunkDocuments: this.options.purgeChunkDocuments,
    });
    if (kept.expired > 0 || kept.purged > 0 || kept.documents > 0) this.logger.info(kept, 'retention sweep');
    // The OpenAI-compatible API's input files and failed-validation records (its batches' other data goes
    // with their docbatch batches, above): a short budget of its own.
    const openai = await openAiRetentionSweep(this.pool, this.options.retentionDays ?? 0, Date.now() + 1_000);
    if (openai.files > 0 || openai.batches > 0) this.logger.info(openai, 'retention sweep (OpenAI files)');
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.lock.release().catch(() => undefined);
  }
}
