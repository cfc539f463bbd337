import { Router } from 'express';
import type { Pool } from 'pg';
import type { ModelCatalog } from '../../core/batches';
import type { ApiConfig } from '../../core/config';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { initTfBackend } from '../../core/models/backend';
import {
  createTenantModelVersion,
  deleteTenantModel,
  findTenantModel,
  listTenantModels,
  type TenantModelVersion,
} from '../../core/models/tenant-models';
import type { ModelInfo } from '../../core/models/types';
import { tenantOf } from '../auth';
import { wrapAsync } from '../http';
import { readModelUpload, uploadLimits } from './model-upload';

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
  /** `system`: a shared model (bundled or MODELS_DIR); `tenant`: the calling tenant's own model. */
  owned_by: 'system' | 'tenant';
  /** Tenant models: when the version was stored, how (`upload` or `training`) and its files' bytes. */
  created_at?: string;
  source?: 'upload' | 'training';
  bytes?: number;
}

export interface ModelsRouterDeps {
  models: ModelCatalog;
  pool: Pool;
  config: ApiConfig;
  logger?: Logger;
}

function sharedObject(m: ModelInfo, backend: string): ModelObject {
  return {
    id: m.id,
    task: m.task,
    ...(m.labels ? { labels: [...m.labels] } : {}),
    ...(m.source_lang ? { source_lang: m.source_lang } : {}),
    ...(m.target_lang ? { target_lang: m.target_lang } : {}),
    backend,
    default: m.default === true,
    owned_by: 'system',
  };
}

function tenantObject(m: TenantModelVersion, backend: string): ModelObject {
  const c = m.config;
  return {
    id: m.modelId,
    task: m.task,
    ...(Array.isArray(c.labels) ? { labels: [...(c.labels as string[])] } : {}),
    ...(typeof c.source_lang === 'string' ? { source_lang: c.source_lang } : {}),
    ...(typeof c.target_lang === 'string' ? { target_lang: c.target_lang } : {}),
    backend,
    default: false,
    owned_by: 'tenant',
    created_at: m.createdAt.toISOString(),
    source: m.source,
    bytes: m.bytes,
  };
}

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `No model '${id.slice(0, 200)}'.`);
}

/**
 * `/v1/models`: the shared models (the registry) and the calling tenant's own models
 * (tenant_models; docs/models.md "Tenant models"). Another tenant's models do not exist here (404).
 *
 * - `GET /v1/models`: shared then tenant models. `backend` is what the workers report in their
 *   heartbeats when any are alive (the most common one), else the backend `TF_BACKEND` resolves to in
 *   the API process.
 * - `GET /v1/models/{id}`: one model (`name@version`, or `name`: its latest version).
 * - `POST /v1/models`: uploads a tenant model version (model-upload.ts), checked as the registry
 *   checks a MODELS_DIR entry; 201 with the model.
 * - `DELETE /v1/models/{name@version}`: deletes a tenant model version; 409 MODEL_IN_USE while a
 *   batch that runs it is queued, running or cancelling; 403 for a shared model.
 */
export function modelsRouter(deps: ModelsRouterDeps, backend: () => Promise<string>): Router {
  const router = Router();
  const { models, pool, config } = deps;
  let uploading = 0;
  router.get(
    '/models',
    wrapAsync(async (_req, res) => {
      const tenantId = tenantOf(res).id;
      const [list, own, name] = await Promise.all([
        models.list(),
        listTenantModels(pool, tenantId),
        backend(),
      ]);
      const data: ModelObject[] = [
        ...list.map((m) => sharedObject(m, name)),
        ...own.map((m) => tenantObject(m, name)),
      ];
      return { status: 200, body: { object: 'list', data } };
    }),
  );
  router.get(
    '/models/:id',
    wrapAsync(async (req, res) => {
      const id = req.params.id as string;
      const own = await findTenantModel(pool, tenantOf(res).id, id);
      if (own) return { status: 200, body: tenantObject(own, await backend()) };
      const at = id.lastIndexOf('@');
      const name = at === -1 ? id : id.slice(0, at);
      const list = await models.list();
      const matches = list.filter((m) => m.name === name);
      const found = at === -1 ? matches[matches.length - 1] : matches.find((m) => m.id === id);
      if (!found) throw notFound(id);
      return { status: 200, body: sharedObject(found, await backend()) };
    }),
  );
  router.post(
    '/models',
    wrapAsync(async (req, res) => {
      const tenantId = tenantOf(res).id;
      if (uploading >= config.MODEL_UPLOADS_AT_ONCE) {
        throw new AppError(
          'RATE_LIMITED',
          'This server is checking as many model uploads as it may at once (MODEL_UPLOADS_AT_ONCE); retry shortly.',
          undefined,
          { 'Retry-After': '5' },
        );
      }
      uploading++;
      try {
        const upload = await readModelUpload(req, config);
        const queryName = typeof req.query.name === 'string' ? req.query.name : undefined;
        const name = queryName ?? upload.name ?? configName(upload.files.get('config.json'));
        const created = await createTenantModelVersion(
          { pool },
          { tenantId, name, files: upload.files, source: 'upload' },
          {
            shared: models,
            limits: uploadLimits(config),
            ready: initTfBackend(config.TF_BACKEND).catch(() => undefined),
          },
        );
        deps.logger?.info(
          {
            tenantId,
            model: created.modelId,
            id: created.id,
            bytes: created.bytes,
            files: created.fileCount,
          },
          'tenant model uploaded',
        );
        return {
          status: 201,
          headers: { Location: `/v1/models/${encodeURIComponent(created.modelId)}` },
          body: tenantObject(created, await backend()),
        };
      } finally {
        uploading--;
      }
    }),
  );
  router.delete(
    '/models/:id',
    wrapAsync(async (req, res) => {
      const id = req.params.id as string;
      const tenantId = tenantOf(res).id;
      const own = /@[1-9][0-9]{0,8}$/.test(id) ? await findTenantModel(pool, tenantId, id) : undefined;
      if (!own) {
        const shared = (await models.list()).some((m) => m.id === id || m.name === id);
        if (shared)
          throw new AppError('FORBIDDEN', `'${id}' is a shared model; only the operator can remove it.`);
        if (!/@[1-9][0-9]{0,8}$/.test(id) && (await findTenantModel(pool, tenantId, id))) {
          throw new AppError(
            'INVALID_REQUEST',
            `Name the version to delete: DELETE /v1/models/${id}@<version>.`,
          );
        }
        throw notFound(id);
      }
      await deleteTenantModel(pool, own);
      deps.logger?.info({ tenantId, model: own.modelId, id: own.id }, 'tenant model deleted');
      return { status: 200, body: { id: own.modelId, object: 'model', deleted: true } };
    }),
  );
  return router;
}

/** config.json's `name`, when the upload names none otherwise ('' when unreadable: the checks say why). */
function configName(config: Buffer | undefined): string {
  if (!config) return '';
  try {
    const parsed = JSON.parse(config.toString('utf8')) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : '';
  } catch {
    return '';
  }
}
