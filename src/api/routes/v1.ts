import { Router } from 'express';
import type { BatchDeps } from '../../core/batches';
import type { ApiConfig } from '../../core/config';
import { requireApiKey } from '../auth';
import { batchesRouter } from './batches';
import { modelsRouter } from './models';
import { trainingJobsRouter } from './training-jobs';
import { usageRouter } from './usage';
import { webhookDeliveriesRouter } from './webhook-deliveries';

/** Everything under `/v1`: every route requires an API key. */
export function v1Router(deps: BatchDeps, config: ApiConfig, backend: () => Promise<string>): Router {
  const router = Router();
  router.use(requireApiKey(deps.db));
  router.use(batchesRouter(deps, config));
  router.use(modelsRouter({ models: deps.models, pool: deps.db.pool, config, logger: deps.logger }, backend));
  router.use(trainingJobsRouter(deps, config));
  router.use(webhookDeliveriesRouter(deps.db));
  router.use(usageRouter(deps.db));
  return router;
}
