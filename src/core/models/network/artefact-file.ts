import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadFailed, ModelError } from '../model-errors';

/** The `config.json` field that names a network file. */
export const MODEL_FILE_FIELD = 'config.json model_file';

/**
 * Reads `<dir>/<file>` (a file a model's config names), refusing paths that leave `dir`. A missing
 * or unreadable file is a ModelError `MODEL_LOAD_FAILED` naming `file` and `field`.
 */
export async function readArtefact(dir: string, file: string, field = MODEL_FILE_FIELD): Promise<Buffer> {
  const resolved = path.resolve(dir, file);
  const rel = path.relative(path.resolve(dir), resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw loadFailed(file, 'is outside the model directory', field);
  try {
    return await fs.readFile(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? 'error'})`;
    throw loadFailed(file, why, field);
  }
}

/**
 * A file `config.json model_file` names that is not what its name says (not HDF5, not a zip,
 * truncated): MODEL_LOAD_FAILED with the message `<file>: <why>` and the field `config.json model_file`.
 */
export function unreadableModelFile(file: string, why: string): ModelError {
  return new ModelError('MODEL_LOAD_FAILED', `${file}: ${why}`, file, MODEL_FILE_FIELD);
}
