import express, { Router } from 'express';
import type { BatchDeps } from '../../../core/batches';
import {
  cancelOpenAiBatch,
  createOpenAiBatch,
  getOpenAiBatch,
  listOpenAiBatches,
  OpenAiError,
} from '../../../core/openai';
import { tenantOf } from '../../auth';
import { wrapAsync } from '../../http';
import { allowQuery } from '../../strict-url';
import { intQuery, stringQuery } from './query';

/** Largest create body, bytes (a few ids and at most 16 metadata pairs). */
const MAX_CREATE_BODY = '64kb';

/** `/batches...` of the OpenAI-compatible surface (OpenAI's Batches API). */
export function openAiBatchesRouter(deps: BatchDeps): Router {
  const router = Router();

  router.post(
    '/batches',
    express.json({ limit: MAX_CREATE_BODY }),
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      if (!req.is('application/json')) {
        throw new OpenAiError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Send the batch as application/json.',
          null,
          'unsupported_media_type',
        );
      }
      return { status: 200, body: await createOpenAiBatch(deps, tenantOf(res).id, req.body as unknown) };
    }),
  );

  router.get(
    '/batches',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['after', 'limit']);
      return {
        status: 200,
        body: await listOpenAiBatches(deps, tenantOf(res).id, {
          limit: intQuery(req, 'limit', 1, 100),
          after: stringQuery(req, 'after'),
        }),
      };
    }),
  );

  router.get(
    '/batches/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await getOpenAiBatch(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.post(
    '/batches/:id/cancel',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await cancelOpenAiBatch(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  return router;
}
