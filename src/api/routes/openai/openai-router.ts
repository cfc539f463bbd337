import { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { BatchDeps } from '../../../core/batches';
import type { ApiConfig } from '../../../core/config';
import { AppError } from '../../../core/errors';
import type { Logger } from '../../../core/logger';
import { toOpenAiErrorBody } from '../../../core/openai';
import { requireApiKey } from '../../auth';
import { sendError, toAppError } from '../../http';
import { openAiBatchesRouter } from './batches-routes';
import { filesRouter } from './files-routes';

/**
 * Everything under `/openai/v1`: OpenAI's Files and Batches APIs over docbatch (see
 * docs/openai-compatibility.md). The same API keys as `/v1`, as Bearer tokens; every error, unknown
 * routes included, in OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.
 */
export function openAiRouter(deps: BatchDeps, config: ApiConfig, logger: Logger): Router {
  const router = Router();
  router.use(requireApiKey(deps.db));
  router.use(filesRouter(deps, config));
  router.use(openAiBatchesRouter(deps));
  router.use((req: Request, _res: Response, next: NextFunction) =>
    next(
      new AppError('NOT_FOUND', `Unknown request URL: ${req.method} ${req.originalUrl.split('?')[0] ?? ''}.`),
    ),
  );
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appErr = toAppError(err, req, logger);
    // OpenAI's SDKs retry 409 (a lock timeout there); here it means the batch already ended: no retry.
    if (appErr.status === 409 && !res.headersSent) res.set('x-should-retry', 'false');
    sendError(res, appErr, toOpenAiErrorBody(appErr));
  });
  return router;
}
