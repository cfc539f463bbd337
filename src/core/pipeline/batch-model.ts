import type { ModelRegistry } from '../models/registry';
import type { AdoptModel } from './inference-protocol';
import type { TaskModel } from '../models/types';

/** `name@version`: what the API stores as a batch's model once it resolved it. */
const EXACT_ID = /@[1-9][0-9]*$/;

/**
 * Resolves and loads a batch's model in a worker thread. The API resolved the batch's model to an
 * exact `name@version` when it accepted the batch; when this registry does not serve that model
 * (its files failed the checks since, so `resolve` says `UNKNOWN_MODEL`), loading it anyway
 * rejects with the {@link ModelError} that names the cause (`MODEL_LOAD_FAILED` or
 * `MODEL_INCOMPATIBLE`, the file and the field), which is what the batch fails with.
 */
export async function loadBatchModel(
  registry: ModelRegistry,
  task: string,
  model: string | null | undefined,
  adopt?: AdoptModel,
): Promise<TaskModel> {
  if (adopt) {
    // A tenant model: its files, materialised by the worker, are loaded like a repository entry's.
    registry.adopt(adopt.key, adopt.dir, adopt.name, adopt.version);
    return registry.load(adopt.key);
  }
  let info: Awaited<ReturnType<ModelRegistry['resolve']>>;
  try {
    info = await registry.resolve(task, model);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'UNKNOWN_MODEL' && model && EXACT_ID.test(model)) {
      return registry.load(model);
    }
    throw err;
  }
  return registry.load(info);
}
