import type { WorkerConfig } from '../core/config';
import { Database } from '../core/db/database';
import type { Logger } from '../core/logger';
import { createRedis } from '../core/redis';
import type { Redis } from 'ioredis';

/**
 * The worker process: owns its connections and the long-lived parts that pull jobs.
 * `start()`/`stop()` are idempotent; `stop()` drains in-flight work before closing connections.
 */
export class WorkerProcess {
  private db?: Database;
  private redis?: Redis;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    private readonly config: WorkerConfig,
    private readonly logger: Logger,
  ) {}

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.db = new Database(this.config.DATABASE_URL, this.config.DB_POOL_SIZE);
    this.redis = createRedis(this.config.REDIS_URL, 'worker');
    this.logger.info({ concurrency: this.config.WORKER_CONCURRENCY }, 'worker started');
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.redis?.disconnect();
    await this.db?.close();
    this.logger.info('worker stopped');
  }
}
