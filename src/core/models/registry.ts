import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors';
import { loadTextClassifier } from './classification/text-classifier';
import { loadExtractiveSummarizer } from './summarization/extractive-summarizer';
import { loadTranslator } from './translation';
import { TASKS, type ModelInfo, type Task, type TaskModel } from './types';

/**
 * Model repository (Triton-style) on disk:
 *
 * ```
 * <repository>/<name>/<version>/config.json   name, task, runtime, max_length, labels | source_lang+target_lang, default?
 *                              /model.json    tfjs weights (+ shards), runtime-specific files (vocab.txt, idf.tsv, ...)
 *                              /card.md       what the model is, data, measured quality, limits
 * ```
 *
 * The bundled repository (`<repo>/models`) is always searched; `modelsDir` (`MODELS_DIR`) adds the
 * operator's repository beside it. A `name@version` present in both is served from `modelsDir`.
 * Version directories are positive integers; `name` alone resolves to the highest version.
 */

/** Builds a ready TaskModel from a repository entry. Keyed by `config.json` `runtime`. */
export type ModelLoader = (info: ModelInfo) => Promise<TaskModel>;

export const DEFAULT_LOADERS: Readonly<Record<string, ModelLoader>> = {
  'text-classifier': loadTextClassifier,
  'extractive-summarizer': loadExtractiveSummarizer,
  'seq2seq-attention': loadTranslator,
};

/** Repository bundled with docbatch. */
export const BUNDLED_MODELS_DIR = path.resolve(__dirname, '../../../models');

type RegistryLog = (msg: string, fields?: object) => void;

export interface ModelRegistryOptions {
  /** The operator's model repository (`MODELS_DIR`), searched beside the bundled one; default none. */
  modelsDir?: string;
  /** The bundled repository; default `<repo>/models`. Pass `null` to search only `modelsDir`. */
  bundledDir?: string | null;
  /** Runtime loaders by `config.json` `runtime`; default {@link DEFAULT_LOADERS}. Merged over the defaults. */
  loaders?: Record<string, ModelLoader>;
  /** Throw on the first invalid repository entry instead of skipping it (default false). */
  strict?: boolean;
  /** Receives one line per skipped entry and per load (structured fields, no document data). */
  log?: RegistryLog;
}

/** A repository entry that was skipped, with the reason (also logged). */
export interface RegistryProblem {
  dir: string;
  message: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,99}$/i;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;

const configSchema = z
  .object({
    name: z.string().regex(NAME_RE),
    task: z.enum(TASKS),
    runtime: z.string().min(1),
    max_length: z.number().int().positive(),
    default: z.boolean().optional(),
    labels: z.array(z.string().min(1)).min(2).optional(),
    source_lang: z.string().min(2).optional(),
    target_lang: z.string().min(2).optional(),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    if (c.task === 'classification' && !c.labels)
      ctx.addIssue({ code: 'custom', message: 'classification needs labels' });
    if (c.labels && new Set(c.labels).size !== c.labels.length) {
      ctx.addIssue({ code: 'custom', message: 'labels must be unique' });
    }
    if (c.task === 'translation' && (!c.source_lang || !c.target_lang)) {
      ctx.addIssue({ code: 'custom', message: 'translation needs source_lang and target_lang' });
    }
  });

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter(
        (d) => d.isDirectory() || (d.isSymbolicLink() && statSync(path.join(dir, d.name)).isDirectory()),
      )
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export class ModelRegistry {
  private readonly repositories: string[];
  private readonly loaders: Record<string, ModelLoader>;
  private readonly loaded = new Map<string, Promise<TaskModel>>();
  private models: ModelInfo[] | undefined;
  private skipped: RegistryProblem[] = [];

  constructor(private readonly options: ModelRegistryOptions = {}) {
    const bundled = options.bundledDir === undefined ? BUNDLED_MODELS_DIR : options.bundledDir;
    this.repositories = [bundled, options.modelsDir]
      .filter((d): d is string => !!d)
      .map((d) => path.resolve(d));
    if (options.modelsDir && !existsSync(options.modelsDir)) {
      throw new Error(`MODELS_DIR ${options.modelsDir} does not exist`);
    }
    this.loaders = { ...DEFAULT_LOADERS, ...options.loaders };
  }

  /** Every servable model, sorted by task, name and version; exactly one per task has `default: true`. */
  list(): ModelInfo[] {
    return this.scan().map((m) => ({ ...m }));
  }

  /** Entries that were skipped during the last scan (invalid config.json, unknown runtime, ...). */
  problems(): RegistryProblem[] {
    this.scan();
    return [...this.skipped];
  }

  /** Re-reads the repositories (models added or removed on disk). Loaded models stay cached. */
  refresh(): void {
    this.models = undefined;
    this.scan();
  }

  /**
   * Resolves a batch's `task` + optional `model` to one repository entry.
   * `name` = its latest version, `name@version` = exactly that version, absent = the task's default.
   * @throws AppError `UNKNOWN_TASK` when no model serves the task, `UNKNOWN_MODEL` when the model does
   * not exist or belongs to another task.
   */
  resolve(task: string, nameOrId?: string | null): ModelInfo {
    const models = this.scan();
    const forTask = models.filter((m) => m.task === task);
    if (forTask.length === 0) {
      const known = [...new Set(models.map((m) => m.task))].join(', ');
      throw new AppError(
        'UNKNOWN_TASK',
        `no model serves task '${task}' (available tasks: ${known || 'none'})`,
      );
    }
    if (nameOrId === undefined || nameOrId === null || nameOrId === '') {
      return { ...forTask.find((m) => m.default)! };
    }
    const at = nameOrId.lastIndexOf('@');
    const name = at === -1 ? nameOrId : nameOrId.slice(0, at);
    const versionText = at === -1 ? undefined : nameOrId.slice(at + 1);
    const unknown = (): AppError =>
      new AppError(
        'UNKNOWN_MODEL',
        `unknown model '${nameOrId}' for task '${task}' (available: ${forTask.map((m) => m.id).join(', ')})`,
      );
    if (versionText !== undefined && !VERSION_RE.test(versionText)) throw unknown();
    const candidates = models.filter((m) => m.name === name);
    const match =
      versionText === undefined
        ? candidates[candidates.length - 1]
        : candidates.find((m) => m.version === Number(versionText));
    if (!match) throw unknown();
    if (match.task !== task) {
      throw new AppError('UNKNOWN_MODEL', `model '${match.id}' serves task '${match.task}', not '${task}'`);
    }
    return { ...match };
  }

  /** Loads (once) and returns the model `id` (`name@version`, or a ModelInfo from list/resolve). */
  load(idOrInfo: string | ModelInfo): Promise<TaskModel> {
    const id = typeof idOrInfo === 'string' ? idOrInfo : idOrInfo.id;
    const cached = this.loaded.get(id);
    if (cached) return cached;
    const info = this.scan().find((m) => m.id === id);
    if (!info) return Promise.reject(new AppError('UNKNOWN_MODEL', `unknown model '${id}'`));
    const loader = this.loaders[info.runtime!]!;
    const started = Date.now();
    const promise = loader({ ...info }).then(
      (model) => {
        this.options.log?.('model loaded', { model: id, runtime: info.runtime, ms: Date.now() - started });
        return model;
      },
      (err: unknown) => {
        this.loaded.delete(id);
        throw err;
      },
    );
    this.loaded.set(id, promise);
    return promise;
  }

  /** Disposes one loaded model (no-op when it is not loaded). */
  async unload(id: string): Promise<void> {
    const promise = this.loaded.get(id);
    if (!promise) return;
    this.loaded.delete(id);
    const model = await promise.catch(() => undefined);
    model?.dispose();
  }

  /** Disposes every loaded model. The registry stays usable; later `load` calls load again. */
  async disposeAll(): Promise<void> {
    const ids = [...this.loaded.keys()];
    await Promise.all(ids.map((id) => this.unload(id)));
  }

  private skip(dir: string, message: string): void {
    if (this.options.strict) throw new Error(`${dir}: ${message}`);
    this.skipped.push({ dir, message });
    this.options.log?.('model repository entry skipped', { dir, reason: message });
  }

  private readEntry(repo: string, name: string, version: string): ModelInfo | undefined {
    const dir = path.join(repo, name, version);
    const file = path.join(dir, 'config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      this.skip(dir, `cannot read config.json: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
      this.skip(dir, `invalid config.json: ${describeZodError(parsed.error)}`);
      return undefined;
    }
    const c = parsed.data;
    if (c.name !== name) {
      this.skip(dir, `config.json name '${c.name}' does not match directory '${name}'`);
      return undefined;
    }
    if (!this.loaders[c.runtime]) {
      this.skip(dir, `unknown runtime '${c.runtime}' (known: ${Object.keys(this.loaders).join(', ')})`);
      return undefined;
    }
    const info: ModelInfo = {
      id: `${name}@${Number(version)}`,
      name,
      version: Number(version),
      task: c.task as Task,
      maxLength: c.max_length,
      dir,
      runtime: c.runtime,
      default: c.default ?? false,
      config: Object.freeze({ ...c }),
    };
    if (c.labels) info.labels = [...c.labels];
    if (c.source_lang) info.source_lang = c.source_lang;
    if (c.target_lang) info.target_lang = c.target_lang;
    return info;
  }

  private scan(): ModelInfo[] {
    if (this.models) return this.models;
    this.skipped = [];
    const byId = new Map<string, ModelInfo & { fromUser: boolean }>();
    this.repositories.forEach((repo, repoIndex) => {
      for (const name of subdirs(repo)) {
        if (!NAME_RE.test(name)) continue;
        for (const version of subdirs(path.join(repo, name))) {
          if (!VERSION_RE.test(version)) continue;
          const info = this.readEntry(repo, name, version);
          if (!info) continue;
          const previous = byId.get(info.id);
          if (previous)
            this.options.log?.('model shadowed', { model: info.id, by: info.dir, shadowed: previous.dir });
          byId.set(info.id, { ...info, fromUser: repoIndex > 0 });
        }
      }
    });
    const all = [...byId.values()].sort(
      (a, b) =>
        TASKS.indexOf(a.task) - TASKS.indexOf(b.task) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
        a.version - b.version,
    );
    // Names must keep one task across versions, or `name` alone would be ambiguous.
    const taskOfName = new Map<string, Task>();
    const consistent = all.filter((m) => {
      const t = taskOfName.get(m.name);
      if (t === undefined) taskOfName.set(m.name, m.task);
      else if (t !== m.task) {
        this.skip(m.dir, `task '${m.task}' differs from earlier versions of '${m.name}' ('${t}')`);
        return false;
      }
      return true;
    });
    this.models = markDefaults(consistent);
    return this.models;
  }
}

/**
 * One default per task: the latest version of a name whose latest version says `default: true`
 * (a name from MODELS_DIR wins over a bundled one, then the alphabetically first); without any
 * such name, the alphabetically first name's latest version.
 */
function markDefaults(models: (ModelInfo & { fromUser: boolean })[]): ModelInfo[] {
  const latest = new Map<string, ModelInfo & { fromUser: boolean }>();
  for (const m of models) latest.set(m.name, m);
  const defaults = new Map<Task, ModelInfo & { fromUser: boolean }>();
  for (const m of latest.values()) {
    const current = defaults.get(m.task);
    const better =
      !current ||
      (m.default && !current.default) ||
      (m.default === current.default && m.fromUser && !current.fromUser);
    if (better) defaults.set(m.task, m);
  }
  const defaultIds = new Set([...defaults.values()].map((m) => m.id));
  return models.map(({ fromUser: _fromUser, ...m }) => ({ ...m, default: defaultIds.has(m.id) }));
}
