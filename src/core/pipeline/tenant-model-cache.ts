import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Queryable } from '../db/queryable';
import { randomId } from '../ids';
import { ModelError } from '../models/model-errors';
import { getTenantModelById, modelContentHash, readTenantModelFiles } from '../models/tenant-models';

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

  private async write(id: string, hash: string, dir: string): Promise<void> {
    if (existsSync(path.join(dir, 'config.json'))) return;
    const files = await readTenantModelFiles(this.db, id);
    if (files.size === 0) throw new ModelError('MODEL_LOAD_FAILED', `the tenant model ${id} was deleted`);
    if (modelContentHash(files) !== hash) {
      throw new ModelError(
        'MODEL_LOAD_FAILED',
        `the stored files of tenant model ${id} do not match their hash`,
      );
    }
    mkdirSync(this.root, { recursive: true });
    const tmp = path.join(this.root, `.tmp-${path.basename(dir)}-${randomId(8)}`);
    try {
      for (const [p, data] of files) {
        const target = path.join(tmp, ...p.split('/'));
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, data);
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
