import { randomBytes } from 'node:crypto';
import { DEFAULT_MODEL_CACHE_DIR, TenantModelCache } from '../core/pipeline/tenant-model-cache';
import os from 'node:os';
import { UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerConfig } from '../core/config';
import { Database } from '../core/db/database';
import type { Logger } from '../core/logger';
import { TASKS } from '../core/models/types';
import type { Task } from '../core/models/types';
import { ChunkPipeline, ChunkReleasedError } from '../core/pipeline/chunk-pipeline';
import type { ChunkSummary } from '../core/pipeline/chunk-pipeline';
import { settleRangeNow } from '../core/pipeline/chunk-store';
import { InferenceClient } from '../core/pipeline/inference-client';
import { MaintenanceLoop } from '../core/pipeline/maintenance-loop';
import { chunkRetries, chunksFailed, trackThreads } from '../core/pipeline/pipeline-metrics';
import { chunkJobSchema, chunkQueueName } from '../core/queue/catalog';
import { QueueSet } from '../core/queue/queues';
import { createRedis } from '../core/redis';
import { removeHeartbeat, writeHeartbeat } from '../core/workers/heartbeat';
import { ThroughputHistory } from '../core/workers/throughput-history';
import { ThroughputMeter } from '../core/workers/throughput-meter';
import { setMetricsTenantLimit } from '../core/usage';
import { MetricsServer } from './metrics-server';
import { TrainingWorker } from './training-worker';
import { WebhookWorker } from './webhook-worker';

/**
 * The worker process: pulls chunk jobs from the task queues (BullMQ, `WORKER_CONCURRENCY` per
 * queue), runs them through one {@link ChunkPipeline} per task (models in an inference thread per
 * task), runs the leader-elected maintenance (expiry, reconciler), writes heartbeats and serves its
 * own metrics.
 *
 * `start()`/`stop()` are idempotent. `stop()` stops taking jobs, flushes partial tensor batches and
 * waits for the jobs in progress, disposes the models, then closes connections. A job cut short
 * (forced exit) keeps its lock until it expires; another worker then picks it up (stalled check).
 */

/** Test and embedding hooks (defaults come from the config). */
export interface WorkerProcessOptions {
  /** Heartbeat period, ms. Default 5000 (TTL: three periods). */
  heartbeatMs?: number;
  /** Reconciler: skip batches younger than this, ms. Default `RECONCILE_INTERVAL_MS`. */
  reconcileMinAgeMs?: number;
}

/** Error recorded on documents of a chunk whose last attempt failed (internal details are logged only). */
export const CHUNK_FAILED_ERROR = {
  code: 'PROCESSING_FAILED',
  message: 'the document could not be processed: its chunk failed on every attempt',
};

export class WorkerProcess {
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private db?: Database;
  private redis?: Redis;
  /** Fail-fast connection for maintenance (never blocks on a Redis outage). */
  private clientRedis?: Redis;
  private queues?: QueueSet;
  private readonly inference = new Map<Task, InferenceClient>();
  private readonly untrack: (() => void)[] = [];
  private readonly pipelines = new Map<Task, ChunkPipeline>();
  private maintenance?: MaintenanceLoop;
  private metricsServer?: MetricsServer;
  private webhooks?: WebhookWorker;
  private training?: TrainingWorker;
  private readonly workers: Worker[] = [];
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly meter = new ThroughputMeter();
  private readonly history = new ThroughputHistory();
  /** CPU time and wall clock at the previous heartbeat (for its CPU percentage). */
  private lastCpu = { usage: process.cpuUsage(), at: performance.now() };
  private documentsTotal = 0;
  private activeJobs = 0;
  private startedAt = new Date();
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  private closing = false;
  readonly tasks: Task[];

  constructor(
    private readonly config: WorkerConfig,
    private readonly logger: Logger,
    private readonly options: WorkerProcessOptions = {},
  ) {
    const wanted = config.WORKER_TASKS;
    this.tasks = wanted.length === 0 ? [...TASKS] : TASKS.filter((t) => wanted.includes(t));
    if (wanted.some((t) => !(TASKS as readonly string[]).includes(t))) {
      throw new Error(`WORKER_TASKS: unknown task in ${wanted.join(',')} (tasks: ${TASKS.join(', ')})`);
    }
  }

  /** Port of the metrics server (0 when none). */
  get metricsPort(): number {
    return this.metricsServer?.port ?? 0;
  }

  /** TensorFlow.js backend in use. */
  get backend(): string {
    return [...this.inference.values()][0]?.backend ?? 'unknown';
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const c = this.config;
    this.startedAt = new Date();
    setMetricsTenantLimit(c.METRICS_TENANT_LIMIT);
    // Every query settles (a silent connection fails after DB_QUERY_TIMEOUT_MS), and Postgres ends
    // the transactions of connections it stopped hearing from: a partition cannot hold the chunk
    // jobs (and their renewed BullMQ locks) or the batch row locks forever.
    this.db = new Database(c.DATABASE_URL, c.DB_POOL_SIZE, {
      queryTimeoutMs: c.DB_QUERY_TIMEOUT_MS,
      statementTimeoutMs: c.DB_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: c.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    });
    this.redis = createRedis(c.REDIS_URL, 'worker');
    this.queues = new QueueSet(createRedis(c.REDIS_URL, 'worker'), c.QUEUE_PREFIX);
    // One inference thread and pipeline per task: a slow model (translation) never holds up the
    // tensor batches of another task, and each thread loads only its task's models.
    const backends = await Promise.all(
      this.tasks.map(async (task) => {
        const inference = new InferenceClient();
        this.inference.set(task, inference);
        const name = await inference.start({
          backend: c.TF_BACKEND,
          tokenizerThread: c.TOKENIZER_THREAD,
          ...(c.MODELS_DIR ? { modelsDir: c.MODELS_DIR } : {}),
        });
        this.untrack.push(trackThreads(task, () => inference.activeSeconds()));
        this.pipelines.set(
          task,
          new ChunkPipeline(
            this.db!.pool,
            inference,
            {
              maxTokens: c.TENSOR_BATCH_MAX_TOKENS,
              maxSize: c.TENSOR_BATCH_MAX_SIZE,
              maxQueueDelayMs: c.MAX_QUEUE_DELAY_MS,
              poolDocs: c.TENSOR_POOL_MAX_DOCS,
            },
            this.logger.child({ worker: this.id, task }),
            (n) => {
              this.meter.add(n);
              this.history.add(task, n);
              this.documentsTotal += n;
            },
            // Every attempt of its chunk plus as many recoveries (stalls, reconciles).
            2 * c.CHUNK_ATTEMPTS,
            new TenantModelCache(this.db!.pool, c.MODEL_CACHE_DIR || DEFAULT_MODEL_CACHE_DIR),
          ),
        );
        return name;
      }),
    );
    const backend = backends[0] ?? 'unknown';
    for (const task of this.tasks) {
      const worker = new Worker(
        chunkQueueName(task),
        (job: Job, token?: string) => this.processJob(task, job, token),
        {
          connection: this.redis,
          prefix: c.QUEUE_PREFIX,
          concurrency: c.WORKER_CONCURRENCY,
          lockDuration: c.WORKER_LOCK_DURATION_MS,
          stalledInterval: c.WORKER_STALLED_INTERVAL_MS,
          maxStalledCount: 2,
        },
      );
      worker.on('error', (err) => {
        if (!this.closing)
          this.logger.warn({ queue: worker.name, err: { message: err.message } }, 'queue worker error');
      });
      worker.on('stalled', (jobId) =>
        this.logger.warn({ queue: worker.name, jobId }, 'stalled job moved back to wait'),
      );
      this.workers.push(worker);
    }
    this.maintenance = new MaintenanceLoop(
      this.db.pool,
      (this.clientRedis = createRedis(c.REDIS_URL, 'client')),
      this.queues,
      c.QUEUE_PREFIX,
      this.id,
      {
        intervalMs: c.RECONCILE_INTERVAL_MS,
        chunkSize: c.CHUNK_SIZE,
        attempts: c.CHUNK_ATTEMPTS,
        minAgeMs: this.options.reconcileMinAgeMs ?? c.RECONCILE_INTERVAL_MS,
        retentionDays: c.RETENTION_DAYS,
      },
      this.logger.child({ worker: this.id, part: 'maintenance' }),
    );
    this.maintenance.start();
    this.webhooks = new WebhookWorker({ pool: this.db.pool, config: c, logger: this.logger });
    await this.webhooks.start();
    if (c.WORKER_TRAINING) {
      // One training job at a time, in a thread of its own at a lower priority (TRAINING_NICE): the
      // chunk jobs above keep their locks renewed and their inference threads fed meanwhile.
      this.training = new TrainingWorker({
        workerId: this.id,
        db: this.db,
        config: c,
        logger: this.logger.child({ worker: this.id }),
      });
      await this.training.start();
    }
    if (c.WORKER_METRICS_PORT > 0) {
      this.metricsServer = new MetricsServer();
      await this.metricsServer.listen(c.WORKER_METRICS_PORT);
    }
    const beatMs = this.options.heartbeatMs ?? 5_000;
    const beat = (): void => {
      void this.heartbeat(beatMs * 3).catch(() => undefined);
    };
    beat();
    this.heartbeatTimer = setInterval(beat, beatMs);
    this.logger.info(
      {
        worker: this.id,
        tasks: this.tasks,
        backend,
        backendDetail: [...this.inference.values()][0]?.backendDetail,
        concurrency: c.WORKER_CONCURRENCY,
        metricsPort: this.metricsPort,
      },
      'worker started',
    );
  }

  private async processJob(task: Task, job: Job, token?: string): Promise<ChunkSummary> {
    const parsed = chunkJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid chunk job payload: ${parsed.error.message}`);
    const data = parsed.data;
    if (this.activeJobs++ === 0) this.meter.busy(true);
    try {
      return await this.pipelines.get(task)!.process(data);
    } catch (err) {
      if (err instanceof ChunkReleasedError) {
        // Stopping: the job was waiting in the reserve; it goes back to the queue, unattempted,
        // for another worker (or this one after a restart).
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const attempts = job.opts.attempts ?? 1;
      const final = job.attemptsMade + 1 >= attempts;
      const log = this.logger.child({ worker: this.id, jobId: job.id, batchId: data.batchId });
      if (final) {
        chunksFailed.inc({ task });
        log.error({ err: { message: (err as Error).message }, attempts }, 'chunk failed on its last attempt');
        await settleRangeNow(this.db!.pool, data, 'failed', CHUNK_FAILED_ERROR).catch((e: unknown) =>
          log.error({ err: { message: (e as Error).message } }, 'could not mark chunk failed'),
        );
      } else {
        chunkRetries.inc({ task });
        log.warn(
          { err: { message: (err as Error).message }, attempt: job.attemptsMade + 1, attempts },
          'chunk failed; retrying',
        );
      }
      throw err;
    } finally {
      if (--this.activeJobs === 0) this.meter.busy(false);
    }
  }

  private async heartbeat(ttlMs: number): Promise<void> {
    if (!this.redis) return;
    // The most recent tensor batch of any task.
    const last = [...this.pipelines.values()].map((p) => p.stats).sort((a, b) => b.lastAt - a.lastAt)[0];
    const cpu = process.cpuUsage();
    const at = performance.now();
    const cpuMicros = cpu.user - this.lastCpu.usage.user + (cpu.system - this.lastCpu.usage.system);
    const cpuPercent = at > this.lastCpu.at ? (cpuMicros / ((at - this.lastCpu.at) * 1000)) * 100 : 0;
    this.lastCpu = { usage: cpu, at };
    // The throughput history first: a failed write keeps its counts for the next beat.
    await this.history
      .flush(this.redis, this.config.QUEUE_PREFIX)
      .catch((err: unknown) =>
        this.logger.debug({ err: { message: (err as Error).message } }, 'throughput history not written'),
      );
    await writeHeartbeat(
      this.redis,
      this.config.QUEUE_PREFIX,
      {
        id: this.id,
        host: os.hostname(),
        pid: process.pid,
        started_at: this.startedAt.toISOString(),
        updated_at: new Date().toISOString(),
        backend: this.backend,
        tasks: this.tasks,
        concurrency: this.config.WORKER_CONCURRENCY,
        active_jobs: this.activeJobs,
        docs_per_s: Math.round(this.meter.rate(60_000) * 10) / 10,
        docs_per_s_series: this.meter.series().map((v) => Math.round(v * 10) / 10),
        series_bucket_s: this.meter.bucketMs / 1000,
        last_tensor_batch_size: last?.lastTensorBatchSize ?? 0,
        last_padding_ratio: Math.round((last?.lastPaddingRatio ?? 0) * 1000) / 1000,
        documents_total: this.documentsTotal,
        cpu_percent: Math.round(cpuPercent * 10) / 10,
        cpu_cores: os.availableParallelism(),
        rss_bytes: process.memoryUsage.rss(),
      },
      ttlMs,
    );
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.closing = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.maintenance?.stop();
    const webhooksStopped = this.webhooks?.stop();
    // A training job in progress is aborted and goes back to the queue (training takes minutes).
    const trainingStopped = this.training?.stop();
    // Stop taking jobs; the jobs in progress finish (partial tensor batches go out at once).
    const closing = Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.pipelines.values()].map((p) => p.drain()));
    await closing;
    for (const untrack of this.untrack.splice(0)) untrack();
    await Promise.all([...this.inference.values()].map((i) => i.stop()));
    if (this.redis) await this.history.flush(this.redis, this.config.QUEUE_PREFIX).catch(() => undefined);
    if (this.redis)
      await removeHeartbeat(this.redis, this.config.QUEUE_PREFIX, this.id).catch(() => undefined);
    await this.metricsServer?.close();
    await this.queues?.close();
    this.redis?.disconnect();
    this.clientRedis?.disconnect();
    await webhooksStopped;
    await trainingStopped;
    await this.db?.close();
    this.logger.info({ worker: this.id }, 'worker stopped');
  }
}
