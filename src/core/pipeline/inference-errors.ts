import { modelErrorCode } from '../models/model-errors';
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

/** Longest message stored for a model failure (on the batch and on each of its documents). */
export const MAX_MODEL_MESSAGE = 500;

/** One line of at most {@link MAX_MODEL_MESSAGE} characters (a config dump is cut, not stored whole). */
export function capMessage(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length <= MAX_MODEL_MESSAGE ? line : `${line.slice(0, MAX_MODEL_MESSAGE - 3)}...`;
}

/**
 * The batch-level error of a model that cannot be resolved or loaded: a ModelError keeps its code
 * (`MODEL_LOAD_FAILED` or `MODEL_INCOMPATIBLE`), an unknown model is `UNKNOWN_MODEL`, anything
 * else `MODEL_LOAD_FAILED`.
 */
export function modelLoadError(model: string | null | undefined, err: unknown): DocError {
  const code =
    modelErrorCode(err) ??
    ((err as { code?: unknown } | null)?.code === 'UNKNOWN_MODEL' ? 'UNKNOWN_MODEL' : 'MODEL_LOAD_FAILED');
  return {
    code,
    message: capMessage(`model '${model ?? 'default'}' could not be loaded: ${firstLine(err)}`),
  };
}

/**
 * The batch-level error of a model that loaded but fails when it runs: a ModelError keeps its
 * code, any other error is `MODEL_INCOMPATIBLE` (the same model fails the same inputs every time).
 */
export function modelRunError(modelId: string, err: unknown, what = 'failed when it ran'): DocError {
  return {
    code: modelErrorCode(err) ?? 'MODEL_INCOMPATIBLE',
    message: capMessage(`model '${modelId}' ${what}: ${firstLine(err)}`),
  };
}

/** The error of one document the model fails on while it runs others (see run-safe.ts). */
export function documentRunError(modelId: string, err: unknown): DocError {
  return {
    code: 'MODEL_INCOMPATIBLE',
    message: capMessage(`model '${modelId}' failed on this document: ${firstLine(err)}`),
  };
}
