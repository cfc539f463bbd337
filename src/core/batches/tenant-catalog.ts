import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { findTenantModel, listTenantModels, type TenantModelVersion } from '../models/tenant-models';
import { DEFAULT_MAX_LENGTH } from '../models/classification/classifier-config';
import type { ModelInfo, Task } from '../models/types';
import type { ModelCatalog } from './model-catalog';

/**
 * The models one tenant may use: the shared ones (the registry: bundled models and MODELS_DIR)
 * and the tenant's own (tenant_models). Another tenant's models do not exist here.
 *
 * Resolution of a batch's `model`: the tenant's own model of that name first (`name` = its
 * latest version, `name@version` = that version), then the shared models. A tenant model cannot
 * take a shared model's name when it is created (409 MODEL_NAME_TAKEN), so both match only when
 * an operator adds a shared model of the same name later: the tenant's batches keep using the
 * tenant's model. A batch that names no model gets the task's shared default.
 */
export function tenantCatalog(shared: ModelCatalog, db: Queryable, tenantId: string): ModelCatalog {
  return {
    async list() {
      const [own, common] = await Promise.all([listTenantModels(db, tenantId), shared.list()]);
      return [...common, ...own.map(tenantModelInfo)];
    },
    async resolve(task: Task, nameOrId?: string) {
      if (nameOrId) {
        const own = await findTenantModel(db, tenantId, nameOrId);
        if (own) {
          if (own.task !== task) {
            throw new AppError(
              'UNKNOWN_MODEL',
              `Model "${own.modelId}" is a ${own.task} model, not ${task}.`,
            );
          }
          return tenantModelInfo(own);
        }
      }
      return shared.resolve(task, nameOrId);
    },
  };
}

/** A tenant model version as a registry entry (`dir` is empty: workers materialise the files). */
export function tenantModelInfo(m: TenantModelVersion): ModelInfo {
  const c = m.config;
  const input = c.input as { length?: unknown } | undefined;
  const maxLength =
    typeof c.max_length === 'number'
      ? c.max_length
      : typeof input?.length === 'number'
        ? input.length
        : DEFAULT_MAX_LENGTH;
  const info: ModelInfo = {
    id: m.modelId,
    name: m.name,
    version: m.version,
    task: m.task,
    maxLength,
    dir: '',
    runtime: m.runtime,
    default: false,
    config: Object.freeze({ ...c }),
    tenantModelId: m.id,
  };
  if (Array.isArray(c.labels)) info.labels = [...(c.labels as string[])];
  if (typeof c.source_lang === 'string') info.source_lang = c.source_lang;
  if (typeof c.target_lang === 'string') info.target_lang = c.target_lang;
  return info;
}
