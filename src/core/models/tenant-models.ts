import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { findBadString } from '../batches/string-checks';
import { inTransaction, type Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { randomId } from '../ids';
import { modelErrorCode } from './model-errors';
import { checkModelDirectory, isValidModelName, type ModelLoader } from './registry';
import type { ModelInfo, Task } from './types';

/**
 * Tenant models (issue 20, docs/models.md "Tenant models"): model versions that belong to one
 * tenant, stored in Postgres (`tenant_models`, files in `tenant_model_files`) so that every worker
 * on every machine can load them. A version is checked exactly as the registry checks a MODELS_DIR
 * entry before it is stored, and stored in one transaction: a refused model stores nothing.
 */

/** Where a tenant model version came from. */
export type TenantModelSource = 'upload' | 'training';

/** Size limits of one tenant model version (MODEL_UPLOAD_MAX_BYTES, MODEL_UPLOAD_MAX_FILES). */
export interface TenantModelLimits {
  /** Total bytes of the files (default 256 MiB). */
  maxBytes: number;
  /** Number of files (default 1,000). */
  maxFiles: number;
}

export const DEFAULT_TENANT_MODEL_LIMITS: Readonly<TenantModelLimits> = Object.freeze({
  maxBytes: 256 * 1024 ** 2,
  maxFiles: 1_000,
});

/** A stored tenant model version (no file contents). */
export interface TenantModelVersion {
  /** Row id, `tmod_...`: the workers' cache key, with `contentHash`. */
  id: string;
  tenantId: string;
  name: string;
  version: number;
  /** `name@version`, what a batch names and what `GET /v1/models` lists. */
  modelId: string;
  task: Task;
  runtime: string;
  /** The parsed config.json. */
  config: Record<string, unknown>;
  source: TenantModelSource;
  trainingJobId: string | null;
  /** Total size of the files. */
  bytes: number;
  fileCount: number;
  /** sha256 (hex) over the files' paths and contents, in path order. */
  contentHash: string;
  createdAt: Date;
}

export interface CreateTenantModelInput {
  tenantId: string;
  /** The model's name (the same as config.json `name`). */
  name: string;
  /** config.json and the files it names, by path relative to the version directory (`/` separated). */
  files: Map<string, Buffer>;
  source: TenantModelSource;
  /** The training job that wrote the model: a second call with the same id returns the first version. */
  trainingJobId?: string;
  /** The version to store; default: the next one of (tenant, name). An existing one is a 409. */
  version?: number;
}

export interface CreateTenantModelOptions {
  /**
   * The shared models (the registry): a tenant model may not take a shared model's name (409
   * MODEL_NAME_TAKEN). Without it, no shared name is checked.
   */
  shared?: { configured(): ModelInfo[] } | { list(): ModelInfo[] | Promise<ModelInfo[]> };
  limits?: Partial<TenantModelLimits>;
  /** Runtime loaders (default: the registry's). */
  loaders?: Record<string, ModelLoader>;
  /** Awaited before the model is loaded for its check (the TensorFlow.js backend being ready). */
  ready?: Promise<unknown>;
}

/** The result of {@link createTenantModelVersion}: `created` is false when trainingJobId found an earlier version. */
export type CreatedTenantModel = TenantModelVersion & { created: boolean };

/**
 * A model that fails the model contract's checks: 400 `INVALID_MODEL` naming the file and the
 * field (also in `details[0]`). Nothing was stored.
 */
export class InvalidModelError extends AppError {
  constructor(
    message: string,
    readonly file?: string,
    readonly field?: string,
    /** MODEL_LOAD_FAILED or MODEL_INCOMPATIBLE when the files failed to load or to fit together. */
    readonly modelCode?: string,
  ) {
    super('INVALID_MODEL', message, [
      {
        ...(file ? { file } : {}),
        ...(field ? { field } : {}),
        message,
      },
    ]);
  }
}

const PATH_SEGMENT_RE = /^[A-Za-z0-9._+=@-][A-Za-z0-9 ._+=@-]{0,199}$/;

/**
 * Checks one file path of a model: relative, `/`-separated, no `.` / `..` segment, no empty
 * segment, at most 8 levels and 1,000 characters, only letters, digits, space and `._+=@-`.
 * @returns the problem, or undefined when the path is acceptable.
 */
export function modelPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
  if (p.length > 1000) return 'path longer than 1,000 characters';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'absolute path';
  if (p.includes('\\')) return 'backslash in path';
  const segments = p.split('/');
  if (segments.length > 8) return 'more than 8 directory levels';
  for (const s of segments) {
    if (s === '..') return 'path leaves the model directory (..)';
    if (s === '' || s === '.') return 'empty or "." path segment';
    if (!PATH_SEGMENT_RE.test(s))
      return `path segment '${s.slice(0, 50)}' has characters other than letters, digits, space and ._+=@-`;
  }
  return undefined;
}

/** sha256 over the files' paths and contents, in path order (stable for the same files). */
export function modelContentHash(files: Map<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const p of [...files.keys()].sort()) {
    const data = files.get(p)!;
    hash.update(`${p}\u0000${data.length}\u0000`).update(data);
  }
  return hash.digest('hex');
}

/** Checks the names, paths and sizes of a model's files (no I/O). */
export function checkModelFiles(files: Map<string, Buffer>, limits: TenantModelLimits): void {
  if (files.size > limits.maxFiles) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `A model has at most ${limits.maxFiles} files (MODEL_UPLOAD_MAX_FILES); this one has ${files.size}.`,
    );
  }
  let total = 0;
  for (const [p, data] of files) {
    const problem = modelPathProblem(p);
    if (problem) throw new InvalidModelError(`${p.slice(0, 200)}: ${problem}`, p.slice(0, 200), 'path');
    total += data.length;
  }
  // A file that is also a directory of another file (`a` and `a/b`) cannot be written out.
  for (const p of files.keys()) {
    const segments = p.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (files.has(dir)) {
        throw new InvalidModelError(
          `${dir}: is a file and also the directory of ${p.slice(0, 200)}.`,
          dir.slice(0, 200),
          'path',
        );
      }
    }
  }
  if (total > limits.maxBytes) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `A model's files total at most ${limits.maxBytes} bytes (MODEL_UPLOAD_MAX_BYTES); these total ${total}.`,
    );
  }
  if (!files.has('config.json')) {
    throw new InvalidModelError(
      'config.json is missing (the model contract needs it at the top level).',
      'config.json',
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(files.get('config.json')!.toString('utf8'));
  } catch (err) {
    throw new InvalidModelError(`config.json is not valid JSON: ${(err as Error).message}`, 'config.json');
  }
  // Stored as jsonb: a NUL or a lone surrogate could not be stored exactly.
  const bad = findBadString(config, '');
  if (bad) throw new InvalidModelError(`config.json ${bad.field}: ${bad.message}`, 'config.json', bad.field);
}

/** Checks a model name (the registry's rule for a repository directory). */
export function checkModelName(name: string): void {
  if (!isValidModelName(name)) {
    throw new InvalidModelError(
      `Invalid model name '${name.slice(0, 100)}': 1-100 letters, digits and ._- starting with a letter or digit.`,
      'config.json',
      'name',
    );
  }
}

/**
 * Writes `files` under a fresh temporary directory `<tmp>/<name>/<version>/` and returns that
 * version directory and a function that removes the whole temporary tree.
 */
function writeTemporaryModel(
  files: Map<string, Buffer>,
  name: string,
  version: number,
): { dir: string; remove: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'docbatch-model-check-'));
  const dir = path.join(root, name, String(version));
  try {
    for (const [p, data] of files) {
      const target = path.join(dir, ...p.split('/'));
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, data);
    }
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Checks a model's files exactly as the registry checks a MODELS_DIR entry (config.json, then the
 * files it names: loading checks every part against the others and runs a probe document).
 * @throws InvalidModelError (400 INVALID_MODEL) naming the file and field; AppError for limits.
 */
export async function validateTenantModel(
  name: string,
  files: Map<string, Buffer>,
  options: CreateTenantModelOptions = {},
): Promise<ModelInfo> {
  checkModelFiles(files, { ...DEFAULT_TENANT_MODEL_LIMITS, ...options.limits });
  checkModelName(name);
  const tmp = writeTemporaryModel(files, name, 1);
  try {
    return await checkModelDirectory(tmp.dir, name, 1, {
      ...(options.loaders ? { loaders: options.loaders } : {}),
      ...(options.ready ? { ready: options.ready } : {}),
    });
  } catch (err) {
    if (err instanceof AppError) throw err;
    const e = err as { message?: string; file?: string; field?: string };
    if (!modelErrorCode(err)) throw err;
    // The registry's messages name the temporary directory: keep paths relative to the model.
    const message = String(e.message ?? err)
      .split(tmp.dir + path.sep)
      .join('')
      .split(tmp.dir)
      .join('.');
    const field = e.field?.startsWith(`${e.file} `) ? e.field.slice(e.file!.length + 1) : e.field;
    throw new InvalidModelError(message, e.file, field, modelErrorCode(err));
  } finally {
    tmp.remove();
  }
}

interface TenantModelRow {
  id: string;
  tenant_id: string;
  name: string;
  version: number;
  task: string;
  runtime: string;
  config: Record<string, unknown>;
  source: string;
  training_job_id: string | null;
  bytes: string | number;
  file_count: number;
  content_hash: string;
  created_at: Date;
}

const COLUMNS = `id, tenant_id, name, version, task, runtime, config, source, training_job_id, bytes,
  file_count, content_hash, created_at`;

function fromRow(r: TenantModelRow): TenantModelVersion {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    version: r.version,
    modelId: `${r.name}@${r.version}`,
    task: r.task as Task,
    runtime: r.runtime,
    config: r.config,
    source: r.source as TenantModelSource,
    trainingJobId: r.training_job_id,
    bytes: Number(r.bytes),
    fileCount: r.file_count,
    contentHash: r.content_hash,
    createdAt: r.created_at,
  };
}

async function sharedNames(shared: CreateTenantModelOptions['shared']): Promise<Set<string>> {
  if (!shared) return new Set();
  const list = 'configured' in shared ? shared.configured() : await shared.list();
  return new Set(list.map((m) => m.name));
}

async function byTrainingJob(db: Queryable, trainingJobId: string): Promise<TenantModelVersion | undefined> {
  const { rows } = await db.query<TenantModelRow>(
    `SELECT ${COLUMNS} FROM tenant_models WHERE training_job_id = $1`,
    [trainingJobId],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

function sameTenant(found: TenantModelVersion, tenantId: string): TenantModelVersion {
  if (found.tenantId !== tenantId) {
    throw new AppError('INVALID_REQUEST', 'trainingJobId belongs to another tenant.');
  }
  return found;
}

/**
 * Stores a new version of the tenant's model `name` from its files (config.json and the files it
 * names, by relative path), after checking them exactly as the registry checks a MODELS_DIR entry.
 *
 * - The version is the next one of (tenant, name) unless `version` is given (an existing version:
 *   409 MODEL_VERSION_EXISTS).
 * - One transaction: a refused or failed call stores nothing.
 * - Idempotent on `trainingJobId` (a unique column): a second call with the same id returns the
 *   version the first stored (`created: false`), also when both run at once.
 *
 * @throws InvalidModelError 400 INVALID_MODEL (with `file` and `field`) for a model that fails the
 * checks; AppError 413 PAYLOAD_TOO_LARGE past the limits; 409 MODEL_NAME_TAKEN for a shared
 * model's name; 400 INVALID_MODEL (config.json task) when earlier versions of the name have
 * another task.
 */
export async function createTenantModelVersion(
  db: { pool: Pool },
  input: CreateTenantModelInput,
  options: CreateTenantModelOptions = {},
): Promise<CreatedTenantModel> {
  const { tenantId, name, files, source, trainingJobId } = input;
  if (source !== 'upload' && source !== 'training') {
    throw new AppError('INVALID_REQUEST', `source must be 'upload' or 'training'.`);
  }
  if (
    input.version !== undefined &&
    !(Number.isInteger(input.version) && input.version > 0 && input.version < 1e9)
  ) {
    throw new AppError('INVALID_REQUEST', 'version must be a positive integer below 1,000,000,000.');
  }
  if (trainingJobId !== undefined) {
    const earlier = await byTrainingJob(db.pool, trainingJobId);
    if (earlier) return { ...sameTenant(earlier, tenantId), created: false };
  }
  checkModelFiles(files, { ...DEFAULT_TENANT_MODEL_LIMITS, ...options.limits });
  checkModelName(name);
  if ((await sharedNames(options.shared)).has(name)) {
    throw new AppError(
      'MODEL_NAME_TAKEN',
      `'${name}' is the name of a shared model; a tenant model needs another name.`,
    );
  }
  const info = await validateTenantModel(name, files, options);
  const contentHash = modelContentHash(files);
  const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
  const id = `tmod_${Date.now().toString(36).padStart(10, '0')}${randomId(14)}`;
  try {
    return await inTransaction(db.pool, async (client) => {
      // One writer per (tenant, name): versions are assigned in order, the task check sees them all.
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('tenant_models'), hashtext($1 || '/' || $2))`,
        [tenantId, name],
      );
      if (trainingJobId !== undefined) {
        const earlier = await byTrainingJob(client, trainingJobId);
        if (earlier) return { ...sameTenant(earlier, tenantId), created: false };
      }
      const { rows: existing } = await client.query<{ version: number; task: string }>(
        `SELECT version, task FROM tenant_models WHERE tenant_id = $1 AND name = $2 ORDER BY version`,
        [tenantId, name],
      );
      const other = existing.find((r) => r.task !== info.task);
      if (other) {
        throw new InvalidModelError(
          `config.json task '${info.task}' differs from earlier versions of '${name}' ('${other.task}').`,
          'config.json',
          'task',
        );
      }
      const version = input.version ?? (existing.length ? existing[existing.length - 1]!.version + 1 : 1);
      if (existing.some((r) => r.version === version)) {
        throw new AppError('MODEL_VERSION_EXISTS', `Model '${name}@${version}' exists already.`);
      }
      const { rows } = await client.query<TenantModelRow>(
        `INSERT INTO tenant_models (id, tenant_id, name, version, task, runtime, config, source, training_job_id,
           bytes, file_count, content_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
         RETURNING ${COLUMNS}`,
        [
          id,
          tenantId,
          name,
          version,
          info.task,
          info.runtime,
          JSON.stringify(info.config ?? {}),
          source,
          trainingJobId ?? null,
          bytes,
          files.size,
          contentHash,
        ],
      );
      for (const [p, data] of files) {
        await client.query(`INSERT INTO tenant_model_files (model_id, path, data) VALUES ($1, $2, $3)`, [
          id,
          p,
          data,
        ]);
      }
      return { ...fromRow(rows[0]!), created: true };
    });
  } catch (err) {
    // The same training job stored its version at the same time: that one is the answer.
    const e = err as { code?: string; constraint?: string };
    if (
      trainingJobId !== undefined &&
      e.code === '23505' &&
      e.constraint === 'tenant_models_training_job_id_key'
    ) {
      const earlier = await byTrainingJob(db.pool, trainingJobId);
      if (earlier) return { ...sameTenant(earlier, tenantId), created: false };
    }
    throw err;
  }
}

/** The tenant's model versions, by name then version. */
export async function listTenantModels(db: Queryable, tenantId: string): Promise<TenantModelVersion[]> {
  const { rows } = await db.query<TenantModelRow>(
    `SELECT ${COLUMNS} FROM tenant_models WHERE tenant_id = $1 ORDER BY name, version`,
    [tenantId],
  );
  return rows.map(fromRow);
}

/** One tenant model version by `name@version` (or `name`: the latest version); undefined when none. */
export async function findTenantModel(
  db: Queryable,
  tenantId: string,
  nameOrId: string,
): Promise<TenantModelVersion | undefined> {
  const at = nameOrId.lastIndexOf('@');
  const name = at === -1 ? nameOrId : nameOrId.slice(0, at);
  const versionText = at === -1 ? undefined : nameOrId.slice(at + 1);
  if (versionText !== undefined && !/^[1-9][0-9]{0,8}$/.test(versionText)) return undefined;
  const { rows } = await db.query<TenantModelRow>(
    versionText === undefined
      ? `SELECT ${COLUMNS} FROM tenant_models WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1`
      : `SELECT ${COLUMNS} FROM tenant_models WHERE tenant_id = $1 AND name = $2 AND version = $3`,
    versionText === undefined ? [tenantId, name] : [tenantId, name, Number(versionText)],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** One tenant model version by row id (any tenant: the workers' lookup); undefined when deleted. */
export async function getTenantModelById(db: Queryable, id: string): Promise<TenantModelVersion | undefined> {
  const { rows } = await db.query<TenantModelRow>(`SELECT ${COLUMNS} FROM tenant_models WHERE id = $1`, [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** The files of a tenant model version, by relative path (empty when it was deleted). */
export async function readTenantModelFiles(db: Queryable, id: string): Promise<Map<string, Buffer>> {
  const { rows } = await db.query<{ path: string; data: Buffer }>(
    `SELECT path, data FROM tenant_model_files WHERE model_id = $1 ORDER BY path`,
    [id],
  );
  return new Map(rows.map((r) => [r.path, r.data]));
}

/**
 * Deletes a tenant model version and its files. Refused with 409 MODEL_IN_USE while a batch that
 * runs it is queued, running or cancelling (let it finish, or cancel it first); 404 NOT_FOUND when
 * it is gone already. A batch created while the delete commits fails on the worker with
 * MODEL_LOAD_FAILED (the model was deleted).
 */
export async function deleteTenantModel(pool: Pool, model: { id: string; modelId: string }): Promise<void> {
  await inTransaction(pool, async (client) => {
    const { rows } = await client.query(`SELECT id FROM tenant_models WHERE id = $1 FOR UPDATE`, [model.id]);
    if (rows.length === 0) throw new AppError('NOT_FOUND', `No model '${model.modelId}'.`);
    const { rows: active } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM batches
        WHERE tenant_model_id = $1 AND status IN ('queued', 'running', 'cancelling') AND deleted_at IS NULL`,
      [model.id],
    );
    const n = active[0]?.n ?? 0;
    if (n > 0) {
      throw new AppError(
        'MODEL_IN_USE',
        `Model '${model.modelId}' is used by ${n} unfinished batch${n === 1 ? '' : 'es'}; wait for ${n === 1 ? 'it' : 'them'} to finish or cancel ${n === 1 ? 'it' : 'them'}, then delete the model.`,
      );
    }
    await client.query(`DELETE FROM tenant_models WHERE id = $1`, [model.id]);
  });
}
