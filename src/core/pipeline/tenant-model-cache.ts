import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Queryable } from '../db/queryable';
import { randomId } from '../ids';
import { ModelError } from '../models/model-errors';
import { getTenantModelById } from '../models/tenant-models';

/**
 * A worker's local copy of the tenant models it runs (issue 20): the files of a version come from
 * Postgres once, into `<root>/<model id>-<content hash>/`, and the threads load them from there
 * with the normal loaders (ModelRegistry.adopt), cached like the bundled models. A directory
 * appears whole or not at all (written beside it, then renamed), so several worker processes on
 * one machine share it. Every chunk looks the version up (one primary-key read): a deleted model's
 * batches fail with MODEL_LOAD_FAILED, and its directory is removed.
 */

/** What the threads need to serve a tenant model: its registry key, directory, name and version. */
export interface MaterialisedModel {
  /** Registry key (unique per tenant model version): `name@version~tmod_...`. */
  key: string;
  dir: string;
  name: string;
  version: number;
}

/** Bytes of one file read per query while a model is copied (the column is stored uncompressed). */
const SLICE_BYTES = 8 * 1024 * 1024;

export const DEFAULT_MODEL_CACHE_DIR = path.join(os.tmpdir(), 'docbatch-model-cache');

export class TenantModelCache {
  private readonly ready = new Map<string, Promise<MaterialisedModel>>();

  constructor(
    private readonly db: Queryable,
    readonly root: string = DEFAULT_MODEL_CACHE_DIR,
  ) {}

  /**
   * The local directory of tenant model `id` (written on first use).
   * @throws ModelError MODEL_LOAD_FAILED when the model was deleted or its files do not match
   * their hash.
   */
  async materialise(id: string): Promise<MaterialisedModel> {
    const row = await getTenantModelById(this.db, id);
    if (!row) {
      this.forget(id);
      throw new ModelError('MODEL_LOAD_FAILED', `the tenant model ${id} was deleted`);
    }
    const cacheKey = `${row.id}-${row.contentHash.slice(0, 16)}`;
    const known = this.ready.get(cacheKey);
    if (known) return known;
    const model: MaterialisedModel = {
      key: `${row.modelId}~${row.id}`,
      dir: path.join(this.root, cacheKey),
      name: row.name,
      version: row.version,
    };
    const promise = this.write(row.id, row.contentHash, model.dir).then(() => model);
    this.ready.set(cacheKey, promise);
    promise.catch(() => this.ready.delete(cacheKey));
    return promise;
  }

  /**
   * Copies the files into `dir`: each file in slices of {@link SLICE_BYTES} (a 200 MiB model does
   * not sit in memory, nor in one query's answer), hashed on the way.
   */
  private async write(id: string, hash: string, dir: string): Promise<void> {
    if (existsSync(path.join(dir, 'config.json'))) return;
    const { rows } = await this.db.query<{ path: string; size: number }>(
      `SELECT path, octet_length(data)::int AS size FROM tenant_model_files WHERE model_id = $1`,
      [id],
    );
    if (rows.length === 0) throw new ModelError('MODEL_LOAD_FAILED', `the tenant model ${id} was deleted`);
    // The order of modelContentHash (JavaScript's string order; model paths are ASCII).
    rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    mkdirSync(this.root, { recursive: true });
    const tmp = path.join(this.root, `.tmp-${path.basename(dir)}-${randomId(8)}`);
    const digest = createHash('sha256');
    try {
      for (const file of rows) {
        const target = path.join(tmp, ...file.path.split('/'));
        mkdirSync(path.dirname(target), { recursive: true });
        digest.update(`${file.path}\u0000${file.size}\u0000`);
        const fd = openSync(target, 'w');
        try {
          for (let at = 0; at < file.size || at === 0; at += SLICE_BYTES) {
            // base64 text: a third larger than the bytes (hex, bytea's text form, doubles them). Binary
            // results are not an option: pg decodes every row of a text-mode connection as UTF-8.
            const { rows: part } = await this.db.query<{ data: string | null }>(
              `SELECT encode(substring(data FROM $3 FOR $4), 'base64') AS data
                 FROM tenant_model_files WHERE model_id = $1 AND path = $2`,
              [id, file.path, at + 1, SLICE_BYTES],
            );
            const text = part[0]?.data;
            const data = text === undefined || text === null ? undefined : Buffer.from(text, 'base64');
            if (!data) throw new ModelError('MODEL_LOAD_FAILED', `the tenant model ${id} was deleted`);
            writeSync(fd, data);
            digest.update(data);
            if (file.size === 0) break;
          }
        } finally {
          closeSync(fd);
        }
      }
      if (digest.digest('hex') !== hash) {
        throw new ModelError(
          'MODEL_LOAD_FAILED',
          `the stored files of tenant model ${id} do not match their hash`,
        );
      }
      try {
        renameSync(tmp, dir);
      } catch (err) {
        // Another process on this machine wrote it first: theirs is the same files.
        if (!existsSync(path.join(dir, 'config.json'))) throw err;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Removes the local copies of a deleted model. */
  private forget(id: string): void {
    for (const key of [...this.ready.keys()]) if (key.startsWith(`${id}-`)) this.ready.delete(key);
    let entries: string[] = [];
    try {
      entries = readdirSync(this.root);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.startsWith(`${id}-`)) rmSync(path.join(this.root, e), { recursive: true, force: true });
    }
  }
}
