/**
 * Errors of a model that cannot be served: raised when a repository entry is checked, loaded or
 * run. They are deterministic (the same files fail the same way every time), so a batch on such a
 * model fails at once instead of being retried.
 *
 * - `MODEL_LOAD_FAILED`: a file is missing, unreadable or not in the format its field says.
 * - `MODEL_INCOMPATIBLE`: the files load but do not fit together or with `config.json` (input
 *   length or dtype, vocabulary vs embedding size, output units vs labels), or the model fails
 *   when it runs.
 */
export type ModelErrorCode = 'MODEL_LOAD_FAILED' | 'MODEL_INCOMPATIBLE';

export class ModelError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    /** The file the problem is in, relative to the model's version directory (e.g. `model.h5`). */
    readonly file?: string,
    /** The field, e.g. `config.json input.length` or `tokenizer.json num_words`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

/** A ModelError `MODEL_LOAD_FAILED` naming `file` (and `field`), with the cause's first line. */
export function loadFailed(file: string, message: string, field?: string): ModelError {
  return new ModelError('MODEL_LOAD_FAILED', `${file}${field ? ` (${field})` : ''}: ${message}`, file, field);
}

/** A ModelError `MODEL_INCOMPATIBLE` naming `file` and `field`. */
export function incompatible(file: string, field: string, message: string): ModelError {
  return new ModelError('MODEL_INCOMPATIBLE', `${file} ${field}: ${message}`, file, field);
}

/** The code of a ModelError (also one from a module instance loaded twice, e.g. in a worker thread). */
export function modelErrorCode(err: unknown): ModelErrorCode | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  if (e && e.name === 'ModelError' && (e.code === 'MODEL_LOAD_FAILED' || e.code === 'MODEL_INCOMPATIBLE'))
    return e.code;
  return undefined;
}
