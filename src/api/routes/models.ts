import { Router } from 'express';
import type { ModelCatalog } from '../../core/batches';
import { wrapAsync } from '../http';

/** One entry of `GET /v1/models`. */
export interface ModelObject {
  id: string;
  task: string;
  labels?: string[];
  source_lang?: string;
  target_lang?: string;
  /** TensorFlow.js backend the workers run this model on (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  default: boolean;
}

/**
 * `GET /v1/models`: the registry's models. `backend` is what the workers report in their heartbeats
 * when any are alive (the most common one), else the backend `TF_BACKEND` resolves to in the API
 * process (resolved once, lazily).
 */
export function modelsRouter(models: ModelCatalog, backend: () => Promise<string>): Router {
  const router = Router();
  router.get(
    '/models',
    wrapAsync(async () => {
      const [list, name] = await Promise.all([models.list(), backend()]);
      const data: ModelObject[] = list.map((m) => ({
        id: m.id,
        task: m.task,
        ...(m.labels ? { labels: [...m.labels] } : {}),
        ...(m.source_lang ? { source_lang: m.source_lang } : {}),
        ...(m.target_lang ? { target_lang: m.target_lang } : {}),
        backend: name,
        default: m.default === true,
      }));
      return { status: 200, body: { object: 'list', data } };
    }),
  );
  return router;
}
