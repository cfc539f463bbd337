import { AppError } from '../errors';
import type { ModelInfo, Task } from '../models/types';

/**
 * What the batch domain needs from the model registry (src/core/models/registry.ts implements it):
 * the models on disk, and name resolution. Either method may be sync or async.
 */
export interface ModelCatalog {
  list(): ModelInfo[] | Promise<ModelInfo[]>;
  /** Resolves `name`, `name@version` or the task's default; throws an error with code UNKNOWN_TASK / UNKNOWN_MODEL. */
  resolve(task: Task, nameOrId?: string): ModelInfo | Promise<ModelInfo>;
}

/** Turns a registry error with code UNKNOWN_TASK / UNKNOWN_MODEL into the API error; rethrows others. */
export function asModelError(err: unknown): never {
  if (err instanceof AppError) throw err;
  const code = (err as { code?: unknown }).code;
  if (code === 'UNKNOWN_MODEL' || code === 'UNKNOWN_TASK') {
    throw new AppError(code, (err as Error).message);
  }
  throw err;
}
