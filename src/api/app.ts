import express from 'express';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { ApiConfig } from '../core/config';
import type { Database } from '../core/db/database';
import { AppError } from '../core/errors';
import type { Logger } from '../core/logger';
import { httpRequestDuration, httpRequestsTotal, queueDepth } from '../core/metrics';
import type { QueueSet } from '../core/queue/queues';
import { errorMiddleware } from './http';
import { opsRouter } from './ops-routes';

/** Everything a request handler may use. One per API process. */
export interface ApiContext {
  config: ApiConfig;
  db: Database;
  /** Client connection (fails fast while Redis is down). */
  redis: Redis;
  queues: QueueSet;
  logger: Logger;
}

/** Samples queue depth for /metrics. */
async function sampleQueueDepth(queues: QueueSet): Promise<void> {
  await Promise.all(
    queues.all().map(async (q) => {
      const counts = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      for (const [state, n] of Object.entries(counts)) queueDepth.set({ queue: q.name, state }, n);
    }),
  );
}

/** Builds the Express app (no listening). */
export function createApp(ctx: ApiContext): Express {
  const app = express();
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
      if (req.path !== '/healthz' && req.path !== '/metrics' && req.path !== '/readyz') {
        ctx.logger.info(
          { method: req.method, path: req.path, status: res.statusCode, ms: Date.now() - started },
          'request',
        );
      }
    });
    next();
  });

  app.use(opsRouter(ctx.db, ctx.redis, () => sampleQueueDepth(ctx.queues)));

  app.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'No such route.')));
  app.use(errorMiddleware(ctx.logger));
  return app;
}
