import express from 'express';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { IngestThreadPool, UploadSlots, batchSettingsFrom, setRetentionDays } from '../core/batches';
import type { BatchDeps, ModelCatalog } from '../core/batches';
import type { ApiConfig } from '../core/config';
import type { Database } from '../core/db/database';
import { AppError } from '../core/errors';
import type { Logger } from '../core/logger';
import { httpRequestDuration, httpRequestsTotal } from '../core/metrics';
import { sampleQueueDepth } from './queue-depth';
import { setMetricsTenantLimit } from '../core/usage';
import { initTfBackend } from '../core/models/backend';
import { ModelRegistry } from '../core/models/registry';
import type { QueueSet } from '../core/queue/queues';
import { SubmissionLimiter } from '../core/tenants';
import { listWorkers } from '../core/workers';
import { adminRouter } from './admin';
import { errorMiddleware } from './http';
import { opsRouter } from './ops-routes';
import { openApiRouter } from './routes/openapi';
import { openAiRouter } from './routes/openai/openai-router';
import { strictUrl } from './strict-url';
import { v1Router } from './routes/v1';

/** Everything a request handler may use. One per API process. */
export interface ApiContext {
  config: ApiConfig;
  db: Database;
  /** Client connection (fails fast while Redis is down). */
  redis: Redis;
  queues: QueueSet;
  logger: Logger;
  /** The model registry; default: a ModelRegistry over the bundled models and MODELS_DIR. */
  models?: ModelCatalog;
}

const depsByContext = new WeakMap<ApiContext, BatchDeps>();

/** The batch operations' dependencies for this process (one set per context). */
export function batchDepsFor(ctx: ApiContext): BatchDeps {
  const cached = depsByContext.get(ctx);
  if (cached) return cached;
  const deps = buildBatchDeps(ctx);
  depsByContext.set(ctx, deps);
  return deps;
}

function buildBatchDeps(ctx: ApiContext): BatchDeps {
  // Models load on the backend the API reports (a backend switch during a load could fail it).
  const backendReady = initTfBackend(ctx.config.TF_BACKEND).catch(() => undefined);
  const models =
    ctx.models ??
    new ModelRegistry({
      modelsDir: ctx.config.MODELS_DIR,
      ready: backendReady,
      log: (msg, fields) => ctx.logger[/skipped|not served/.test(msg) ? 'warn' : 'info'](fields ?? {}, msg),
    });
  // Check the repository now (each refused model is logged with its file and field), not on the
  // first request.
  void Promise.resolve(models.list()).catch((err: unknown) =>
    ctx.logger.warn({ err: (err as Error).message }, 'model repository check failed'),
  );
  return {
    db: ctx.db,
    queues: ctx.queues,
    models,
    logger: ctx.logger,
    limiter: new SubmissionLimiter(ctx.redis, {
      perMinute: ctx.config.RATE_LIMIT_PER_MINUTE,
      maxActive: ctx.config.MAX_ACTIVE_BATCHES,
      prefix: ctx.config.QUEUE_PREFIX,
    }),
    uploadSlots: new UploadSlots(
      Math.max(1, ctx.config.DB_POOL_SIZE - 2),
      30_000,
      ctx.config.UPLOAD_SLOTS_PER_TENANT ||
        Math.max(1, Math.floor(Math.max(1, ctx.config.DB_POOL_SIZE - 2) / 2)),
    ),
    // Each upload's transaction runs on a connection of its ingest thread: uploads at once are the
    // upload slots, spread over the threads (see ingest-threads.ts).
    ingestThreads:
      ctx.config.INGEST_THREADS > 0
        ? new IngestThreadPool(ctx.config.INGEST_THREADS, ctx.config.INGEST_THREAD_NICE, {
            url: ctx.config.DATABASE_URL,
            connections: Math.ceil(Math.max(1, ctx.config.DB_POOL_SIZE - 2) / ctx.config.INGEST_THREADS),
          })
        : undefined,
    settings: batchSettingsFrom(ctx.config),
  };
}

/** Stops what {@link batchDepsFor} started for `ctx` (the ingest threads), if it ran. */
export async function closeBatchDeps(ctx: ApiContext): Promise<void> {
  await depsByContext.get(ctx)?.ingestThreads?.close();
}

/**
 * The TensorFlow.js backend for `GET /v1/models`: the one most live workers report in their
 * heartbeats; with no worker alive (or Redis unreachable), the one TF_BACKEND resolves to in this
 * process, resolved on first use (a failed attempt is retried on the next call).
 */
function backendResolver(ctx: ApiContext): () => Promise<string> {
  let local: Promise<string> | undefined;
  const localBackend = (): Promise<string> => {
    local ??= initTfBackend(ctx.config.TF_BACKEND, (msg, fields) => ctx.logger.info(fields ?? {}, msg)).catch(
      (err: unknown) => {
        local = undefined;
        throw err;
      },
    );
    return local;
  };
  return async () => {
    const workers = await listWorkers(ctx.redis, ctx.config.QUEUE_PREFIX).catch(() => []);
    const votes = new Map<string, number>();
    for (const w of workers) if (w.backend) votes.set(w.backend, (votes.get(w.backend) ?? 0) + 1);
    const best = [...votes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    return best ? best[0] : localBackend();
  };
}

/** Builds the Express app (no listening). */
export function createApp(ctx: ApiContext): Express {
  const app = express();
  setRetentionDays(ctx.config.RETENTION_DAYS);
  setMetricsTenantLimit(ctx.config.METRICS_TENANT_LIMIT);
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  // HTTP metrics and access log, labelled by route pattern (not raw path) to bound cardinality.
  app.use((req, res, next) => {
    const end = httpRequestDuration.startTimer();
    const started = Date.now();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const labels = {
        method: req.method,
        route: route ? `${req.baseUrl}${route}` : 'unmatched',
        status_code: String(res.statusCode),
      };
      end(labels);
      httpRequestsTotal.inc(labels);
      // Probes, scrapes and the dashboard's polling are logged at debug only (a line every 2 s per open tab).
      const noisy = /^\/(healthz|readyz|metrics)$|^\/admin\/api\//.test(req.originalUrl.split('?')[0] ?? '');
      ctx.logger[noisy ? 'debug' : 'info'](
        {
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Date.now() - started,
        },
        'request',
      );
    });
    next();
  });

  // A path or query that is not strict percent-encoded UTF-8, or holds NUL, is a 400 before any route.
  app.use(strictUrl());
  app.use(opsRouter(ctx.db, ctx.redis, () => sampleQueueDepth(ctx.queues)));
  app.use(openApiRouter());
  app.use('/v1', v1Router(batchDepsFor(ctx), ctx.config, backendResolver(ctx)));
  app.use('/openai/v1', openAiRouter(batchDepsFor(ctx), ctx.config, ctx.logger));
  app.use('/admin', adminRouter(ctx, batchDepsFor(ctx)));

  app.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'No such route.')));
  app.use(errorMiddleware(ctx.logger));
  return app;
}
