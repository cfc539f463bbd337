import { DocumentInputError } from '../models/types';
import type { DocError } from './inference-protocol';

/** The per-document error of a DocumentInputError (the document fails, not the chunk); null for any other error. */
export function docError(err: unknown): DocError | null {
  if (err instanceof DocumentInputError) return { code: err.code, message: err.message };
  const e = err as { name?: string; code?: unknown; message?: unknown };
  // A DocumentInputError from a module instance loaded twice still carries its name and code.
  if (e?.name === 'DocumentInputError' && typeof e.code === 'string') {
    return { code: e.code, message: String(e.message) };
  }
  return null;
}

/** First line of an error's message (no stack, no multi-line internals). */
export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** The batch-level error of a model that cannot be resolved or loaded. */
export function modelLoadError(model: string, err: unknown): DocError {
  const code = (err as { code?: unknown }).code === 'UNKNOWN_MODEL' ? 'UNKNOWN_MODEL' : 'MODEL_LOAD_FAILED';
  return { code, message: `model '${model}' could not be loaded: ${firstLine(err)}` };
}
