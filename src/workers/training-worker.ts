import { Queue, WaitingError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { WorkerConfig } from '../core/config';
import type { Database } from '../core/db/database';
import type { Logger } from '../core/logger';
import { TRAINING_QUEUE, trainingJobSchema } from '../core/queue/catalog';
import { createRedis } from '../core/redis';
import {
  finishTrainingJobNow,
  loadTrainingCheckpoint,
  loadTrainingExamples,
  recordTrainingProgress,
  runTrainingThread,
  startTrainingJob,
  TRAINING_JOB_OPTIONS,
  TrainingAbortedError,
  TrainingFailedError,
  trainingCancelRequested,
  unfinishedTrainingJobIds,
} from '../core/training-jobs';
import type { TrainingProgress } from '../core/training-jobs';

/** The configuration the training worker reads. */
export type TrainingWorkerConfig = Pick<
  WorkerConfig,
  | 'DATABASE_URL'
  | 'REDIS_URL'
  | 'QUEUE_PREFIX'
  | 'MODELS_DIR'
  | 'TF_BACKEND'
  | 'TRAINING_NICE'
  | 'TRAINING_CHECKPOINT_INTERVAL_MS'
  | 'WORKER_LOCK_DURATION_MS'
  | 'WORKER_STALLED_INTERVAL_MS'
  | 'RECONCILE_INTERVAL_MS'
>;

export interface TrainingWorkerOptions {
  db: Database;
  config: TrainingWorkerConfig;
  logger: Logger;
  /** Id of the worker process (recorded on the job it runs). */
  workerId: string;
  /** How often a running job's row is checked for a cancel, ms. Default 1000. */
  cancelPollMs?: number;
}

/** Error recorded for a failure inside training that has no code of its own (details in the worker log). */
export const TRAINING_FAILED = {
  code: 'TRAINING_FAILED',
  message: 'training failed on the worker',
};

/**
 * The training part of a worker process: a BullMQ worker on the `training` queue with concurrency 1
 * (one training job per worker process at a time). Training runs in a thread of its own at a lower
 * scheduling priority (`TRAINING_NICE`), so the process's event loop keeps renewing the locks of its
 * chunk jobs and feeding its inference threads: inference is not held up by training, and takes the
 * cores first.
 *
 * A job: the row is started (attempt counted), the examples are read, a thread trains with progress
 * written to the row each epoch; a cancel (the row's `cancel_requested_at`, polled every second and
 * at each epoch) aborts the thread through its AbortSignal and the job ends `cancelled`. On success
 * the model version is created with `createTenantModelVersion(... trainingJobId)`, which creates at
 * most one version per job, then the job ends `succeeded` with the webhook in the same transaction.
 *
 * A worker killed mid-training: its BullMQ lock expires and the stalled-job check of any worker
 * moves the job back to the queue; it is trained again from the start (deterministic), and a worker
 * that died after creating the version finds it (idempotent on the job id): one version per job. A
 * job interrupted MAX_TRAINING_STARTS times fails. A job stored but not enqueued (Redis down at
 * submit time), or whose BullMQ job is gone, is enqueued again by a sweep every RECONCILE_INTERVAL_MS.
 */
export class TrainingWorker {
  private redis?: Redis;
  private clientRedis?: Redis;
  private queue?: Queue;
  private worker?: Worker;
  private sweepTimer?: NodeJS.Timeout;
  private current?: AbortController;
  private shuttingDown = false;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly log: Logger;

  constructor(private readonly opts: TrainingWorkerOptions) {
    this.log = opts.logger.child({ worker: 'training' });
  }

  private get pool(): Pool {
    return this.opts.db.pool;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { config } = this.opts;
    this.redis = createRedis(config.REDIS_URL, 'worker');
    this.clientRedis = createRedis(config.REDIS_URL, 'client');
    this.queue = new Queue(TRAINING_QUEUE, { connection: this.clientRedis, prefix: config.QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
    this.worker = new Worker(TRAINING_QUEUE, (job: Job, token?: string) => this.process(job, token), {
      connection: this.redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: 1,
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      // Restarts are bounded by the row's attempts (MAX_TRAINING_STARTS), not by BullMQ.
      maxStalledCount: 100,
    });
    this.worker.on('error', (err) => {
      if (!this.shuttingDown) this.log.warn({ err: { message: err.message } }, 'training queue worker error');
    });
    this.worker.on('stalled', (jobId) =>
      this.log.warn({ trainingJobId: jobId }, 'stalled training job moved back to the queue'),
    );
    const sweep = (): void => {
      void this.sweep().catch((err: unknown) =>
        this.log.debug({ err: { message: (err as Error).message } }, 'training sweep failed'),
      );
    };
    sweep();
    this.sweepTimer = setInterval(sweep, config.RECONCILE_INTERVAL_MS);
    this.log.info('training worker started');
  }

  /** Enqueues unfinished jobs that have no live BullMQ job (stored while Redis was down, or lost). */
  private async sweep(): Promise<void> {
    if (!this.queue) return;
    for (const id of await unfinishedTrainingJobIds(this.pool)) {
      const job = await this.queue.getJob(id);
      if (job) {
        const state = await job.getState();
        if (state !== 'completed' && state !== 'failed') continue;
        // The BullMQ job ended but the row did not (its worker lost Postgres at the end): run it again.
        await job.remove().catch(() => undefined);
      }
      await this.queue.add('train', { trainingJobId: id }, { ...TRAINING_JOB_OPTIONS, jobId: id });
    }
  }

  private async process(job: Job, token?: string): Promise<void> {
    const parsed = trainingJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.log.error({ jobId: job.id }, 'malformed training job dropped');
      return;
    }
    const id = parsed.data.trainingJobId;
    const log = this.log.child({ trainingJobId: id });
    const started = await startTrainingJob(this.pool, id, this.opts.workerId);
    if (started.kind !== 'start') {
      if (started.kind === 'finished')
        log.info({ status: started.row.status }, 'training job ended before it ran');
      return;
    }
    const row = started.row;
    const examples = await loadTrainingExamples(this.pool, id);
    // A job an earlier worker left mid-training (killed, or stopped) resumes from its latest checkpoint.
    const checkpoint = await loadTrainingCheckpoint(this.pool, id);
    const controller = new AbortController();
    this.current = controller;
    let cancelled = false;
    const checkCancel = async (): Promise<void> => {
      if (controller.signal.aborted) return;
      if (await trainingCancelRequested(this.pool, id)) {
        cancelled = true;
        controller.abort();
      }
    };
    const poll = setInterval(() => {
      void checkCancel().catch(() => undefined);
    }, this.opts.cancelPollMs ?? 1_000);
    let progressWrite = Promise.resolve();
    const onProgress = (p: TrainingProgress): void => {
      progressWrite = progressWrite
        .then(async () => {
          if (await recordTrainingProgress(this.pool, id, p)) {
            cancelled = true;
            controller.abort();
          }
        })
        .catch((err: unknown) =>
          log.warn({ err: { message: (err as Error).message } }, 'progress not written'),
        );
    };
    log.info(
      {
        examples: row.example_count,
        recipe: row.recipe,
        attempt: row.attempts,
        ...(checkpoint ? { resumeFromEpoch: checkpoint.epoch } : {}),
      },
      'training started',
    );
    try {
      const out = await runTrainingThread(
        {
          type: 'train',
          backend: this.opts.config.TF_BACKEND,
          nice: this.opts.config.TRAINING_NICE,
          recipe: row.recipe,
          hyperparameters: row.hyperparameters,
          texts: examples.texts,
          labels: examples.labels,
          modelName: row.model_name,
          tenantId: row.tenant_id,
          trainingJobId: id,
          databaseUrl: this.opts.config.DATABASE_URL,
          worker: this.opts.workerId,
          checkpointIntervalMs: this.opts.config.TRAINING_CHECKPOINT_INTERVAL_MS,
          ...(checkpoint ? { resume: new Uint8Array(checkpoint.data) } : {}),
          ...(this.opts.config.MODELS_DIR ? { modelsDir: this.opts.config.MODELS_DIR } : {}),
        },
        {
          signal: controller.signal,
          onProgress,
          onStarted: (backend) => {
            void this.pool
              .query('UPDATE training_jobs SET backend = $2 WHERE id = $1', [id, backend])
              .catch(() => undefined);
          },
        },
      );
      clearInterval(poll);
      await progressWrite;
      const model = out.model;
      const ended = await finishTrainingJobNow(this.pool, id, {
        status: 'succeeded',
        resultModel: model,
        metrics: out.metrics,
      });
      log.info(
        { model, created: out.created, backend: out.backend, recorded: ended !== null },
        'training succeeded',
      );
    } catch (err) {
      clearInterval(poll);
      await progressWrite;
      if (err instanceof TrainingAbortedError) {
        if (this.shuttingDown && !cancelled) {
          // Stopping: the job goes back to the queue for another worker (or this one after a restart),
          // without counting this start.
          await this.pool.query(
            `UPDATE training_jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), progress = NULL,
               updated_at = now() WHERE id = $1 AND status = 'running'`,
            [id],
          );
          await job.moveToWait(token);
          throw new WaitingError();
        }
        await finishTrainingJobNow(this.pool, id, { status: 'cancelled' });
        log.info('training cancelled');
        return;
      }
      if (err instanceof TrainingFailedError) {
        log.warn({ err: { message: err.message, code: err.code } }, 'training failed');
        await finishTrainingJobNow(this.pool, id, {
          status: 'failed',
          error: err.code ? { code: err.code, message: err.message } : TRAINING_FAILED,
        });
        return;
      }
      log.error({ err: { message: (err as Error).message } }, 'training job failed');
      await finishTrainingJobNow(this.pool, id, { status: 'failed', error: TRAINING_FAILED }).catch(
        () => undefined,
      );
      throw err;
    } finally {
      clearInterval(poll);
      if (this.current === controller) this.current = undefined;
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.shuttingDown = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    // A training job in progress goes back to the queue rather than hold up the shutdown for minutes.
    this.current?.abort();
    await this.worker?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    this.redis?.disconnect();
    this.clientRedis?.disconnect();
    this.log.info('training worker stopped');
  }
}
