import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors';
import { DEFAULT_MAX_LENGTH } from './classification/classifier-config';
import { loadTextClassifier } from './classification/text-classifier';
import { ModelError, modelErrorCode, type ModelErrorCode } from './model-errors';
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

/**
 * Runtimes whose files are opened and checked when the repository is read (a model that fails is
 * not listed): loading one checks every part against the others and runs a probe document.
 */
export const CHECKED_RUNTIMES: ReadonlySet<string> = new Set(['text-classifier']);

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
  /**
   * Keep the models loaded by the checks (workers, which serve them next); default false: the API
   * and `docbatch models check` load each model once to check it, then release it.
   */
  keepCheckedModels?: boolean;
  /** Awaited before any model loads (e.g. the TensorFlow.js backend being initialised). */
  ready?: Promise<unknown>;
}

/** A repository entry that was skipped, with the reason (also logged). */
export interface RegistryProblem {
  dir: string;
  message: string;
  /** `name@version`, when config.json could be read. */
  id?: string;
  /** MODEL_LOAD_FAILED or MODEL_INCOMPATIBLE for a model whose files failed the checks. */
  code?: ModelErrorCode;
  /** The file and field at fault, relative to `dir`, when known. */
  file?: string;
  field?: string;
}

/** A valid entry, and whether it comes from MODELS_DIR (which wins defaults over bundled names). */
type ScannedModel = ModelInfo & { fromUser: boolean };

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,99}$/i;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;

const configSchema = z
  .object({
    name: z.string().regex(NAME_RE),
    task: z.enum(TASKS),
    runtime: z.string().min(1),
    max_length: z.number().int().positive().optional(),
    default: z.boolean().optional(),
    labels: z
      .array(z.string().min(1))
      .min(2, {
        message:
          'at least 2 labels (a one-unit sigmoid model lists both, e.g. ["negative", "positive"], with "output": "sigmoid")',
      })
      .optional(),
    source_lang: z.string().min(2).optional(),
    target_lang: z.string().min(2).optional(),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    if (c.task === 'classification' && !c.labels)
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'classification needs labels' });
    if (c.labels && new Set(c.labels).size !== c.labels.length) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'labels must be unique' });
    }
    if (c.task === 'translation' && (!c.source_lang || !c.target_lang)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.source_lang ? 'target_lang' : 'source_lang'],
        message: 'translation needs source_lang and target_lang',
      });
    }
    if (c.max_length === undefined && c.runtime !== 'text-classifier') {
      ctx.addIssue({ code: 'custom', path: ['max_length'], message: 'required' });
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
  /** Entries outside the repositories, by key (tenant models a worker materialised): see {@link adopt}. */
  private readonly adopted = new Map<string, ModelInfo>();
  /** Outcome of each entry's file check (by `name@version`): undefined = passed. */
  private readonly checks = new Map<string, Promise<RegistryProblem | undefined>>();
  private models: ScannedModel[] | undefined;
  /** The last check started: checks run one after another. */
  private checkChain: Promise<void> = Promise.resolve();
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

  /**
   * Every servable model, sorted by task, name and version; exactly one per task has
   * `default: true`. Models whose files fail the checks are left out (see {@link problems}).
   */
  async list(): Promise<ModelInfo[]> {
    return (await this.served()).map((m) => ({ ...m }));
  }

  /** Entries whose config.json is valid, before their files are checked (no I/O beyond config.json). */
  configured(): ModelInfo[] {
    return markDefaults(this.scan());
  }

  /**
   * Entries that are not served: skipped while the repository was read (invalid config.json,
   * unknown runtime, ...) and models whose files failed the checks (with code, file and field).
   */
  async problems(): Promise<RegistryProblem[]> {
    const models = this.scan();
    const failed = await Promise.all(models.map((m) => this.check(m)));
    return [...this.skipped, ...failed.filter((p): p is RegistryProblem => p !== undefined)];
  }

  /** Re-reads the repositories (models added or removed on disk). Loaded models stay cached. */
  refresh(): void {
    this.models = undefined;
    this.checks.clear();
    this.scan();
  }

  /**
   * Resolves a batch's `task` + optional `model` to one served entry.
   * `name` = its latest served version, `name@version` = exactly that version, absent = the task's
   * default.
   * @throws AppError `UNKNOWN_TASK` when no model serves the task, `UNKNOWN_MODEL` when the model does
   * not exist, belongs to another task, or is not served because its files failed the checks (the
   * message says why).
   */
  async resolve(task: string, nameOrId?: string | null): Promise<ModelInfo> {
    const configured = this.scan();
    const at = nameOrId ? nameOrId.lastIndexOf('@') : -1;
    const name = !nameOrId ? undefined : at === -1 ? nameOrId : nameOrId.slice(0, at);
    const versionText = nameOrId && at !== -1 ? nameOrId.slice(at + 1) : undefined;
    // Only the entries that can answer are checked (a worker resolves one exact id).
    const exact =
      name !== undefined && versionText !== undefined && VERSION_RE.test(versionText)
        ? configured.find((m) => m.name === name && m.version === Number(versionText))
        : undefined;
    if (exact && exact.task === task) {
      const problem = await this.check(exact);
      if (problem) throw notServed(exact.id, problem);
      // The default flag as if every entry of the task passed (the others are not checked here).
      return { ...markDefaults(configured.filter((m) => m.task === task)).find((m) => m.id === exact.id)! };
    }
    const models = await this.served();
    const forTask = models.filter((m) => m.task === task);
    if (forTask.length === 0) {
      const known = [...new Set(models.map((m) => m.task))].join(', ');
      throw new AppError(
        'UNKNOWN_TASK',
        `no model serves task '${task}' (available tasks: ${known || 'none'})`,
      );
    }
    if (name === undefined) return { ...forTask.find((m) => m.default)! };
    const unknown = (): AppError =>
      new AppError(
        'UNKNOWN_MODEL',
        `unknown model '${nameOrId}' for task '${task}' (available: ${forTask.map((m) => m.id).join(', ') || 'none'})`,
      );
    if (versionText !== undefined && !VERSION_RE.test(versionText)) throw unknown();
    const candidates = models.filter((m) => m.name === name);
    const match =
      versionText === undefined
        ? candidates[candidates.length - 1]
        : candidates.find((m) => m.version === Number(versionText));
    if (!match) {
      const broken = configured.find(
        (m) => m.name === name && (versionText === undefined || m.version === Number(versionText)),
      );
      const problem = broken ? await this.check(broken) : undefined;
      if (broken && problem) throw notServed(broken.id, problem);
      throw unknown();
    }
    if (match.task !== task) {
      throw new AppError('UNKNOWN_MODEL', `model '${match.id}' serves task '${match.task}', not '${task}'`);
    }
    return { ...match };
  }

  /**
   * Loads (once) and returns the model `id` (`name@version`, or a ModelInfo from list/resolve).
   * A model whose files fail rejects with a {@link ModelError} (MODEL_LOAD_FAILED or
   * MODEL_INCOMPATIBLE) naming the file and field.
   */
  load(idOrInfo: string | ModelInfo): Promise<TaskModel> {
    const id = typeof idOrInfo === 'string' ? idOrInfo : idOrInfo.id;
    const cached = this.loaded.get(id);
    if (cached) return cached;
    const info = this.adopted.get(id) ?? this.scan().find((m) => m.id === id);
    if (!info) return Promise.reject(new AppError('UNKNOWN_MODEL', `unknown model '${id}'`));
    const loader = this.loaders[info.runtime!]!;
    const started = Date.now();
    const promise = Promise.resolve(this.options.ready)
      .then(() => loader({ ...info }))
      .then(
        (model) => {
          this.options.log?.('model loaded', { model: id, runtime: info.runtime, ms: Date.now() - started });
          return model;
        },
        (err: unknown) => {
          this.loaded.delete(id);
          throw asModelError(err);
        },
      );
    this.loaded.set(id, promise);
    return promise;
  }

  /**
   * Serves the model in `dir` (a directory outside the repositories: a tenant model a worker
   * materialised from Postgres) under `key`, which {@link load} then takes as its id. Its
   * config.json is read as a repository entry's; `key` is the returned info's `id`. Adopting the
   * same key again returns the entry adopted first.
   * @throws ModelError MODEL_LOAD_FAILED naming config.json and the field when it is invalid.
   */
  adopt(key: string, dir: string, name: string, version: number): ModelInfo {
    const known = this.adopted.get(key);
    if (known) return { ...known };
    const parsed = readModelConfig(dir, name, version, this.loaders);
    if ('problem' in parsed) {
      throw new ModelError('MODEL_LOAD_FAILED', parsed.problem.message, 'config.json', parsed.problem.field);
    }
    const info = { ...parsed.info, id: key };
    this.adopted.set(key, info);
    return { ...info };
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

  /**
   * Checks one entry's files (once per scan): runtimes in {@link CHECKED_RUNTIMES} load the model,
   * which checks every part and runs a probe document. Resolves to the problem, or undefined.
   */
  private check(info: ModelInfo): Promise<RegistryProblem | undefined> {
    const cached = this.checks.get(info.id);
    if (cached) return cached;
    if (!CHECKED_RUNTIMES.has(info.runtime!)) {
      const ok = Promise.resolve(undefined);
      this.checks.set(info.id, ok);
      return ok;
    }
    // One check at a time: a repository of large models is not loaded all at once.
    const previous = this.checkChain;
    const promise = previous
      .then(() => {
        const wasLoaded = this.loaded.has(info.id);
        return this.load(info).then(() => wasLoaded);
      })
      .then(
        async (wasLoaded) => {
          if (!wasLoaded && !this.options.keepCheckedModels) await this.unload(info.id);
          return undefined;
        },
        (err: unknown) => {
          const e = asModelError(err);
          const problem: RegistryProblem = { dir: info.dir, id: info.id, message: e.message, code: e.code };
          if (e.file) problem.file = e.file;
          if (e.field) problem.field = e.field;
          this.options.log?.('model not served: its files failed the checks', {
            model: info.id,
            dir: info.dir,
            code: e.code,
            file: e.file,
            field: e.field,
            reason: e.message,
          });
          return problem;
        },
      );
    this.checks.set(info.id, promise);
    this.checkChain = promise.then(() => undefined);
    return promise;
  }

  /** The served models (config.json valid, files checked), with one default per task. */
  private async served(task?: string): Promise<ModelInfo[]> {
    const configured = this.scan().filter((m) => task === undefined || m.task === task);
    const problems = await Promise.all(configured.map((m) => this.check(m)));
    return markDefaults(configured.filter((_, i) => !problems[i]));
  }

  private skip(dir: string, message: string): void {
    if (this.options.strict) throw new Error(`${dir}: ${message}`);
    this.skipped.push({ dir, message });
    this.options.log?.('model repository entry skipped', { dir, reason: message });
  }

  private readEntry(repo: string, name: string, version: string): ModelInfo | undefined {
    const dir = path.join(repo, name, version);
    const parsed = readModelConfig(dir, name, Number(version), this.loaders);
    if ('problem' in parsed) {
      this.skip(dir, parsed.problem.message);
      return undefined;
    }
    return parsed.info;
  }

  private scan(): ScannedModel[] {
    if (this.models) return this.models;
    this.skipped = [];
    const byId = new Map<string, ScannedModel>();
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
    this.models = consistent;
    return this.models;
  }
}

/** Why a config.json cannot be served: the message, and the field (`config.json <path>`) when one is at fault. */
export interface ConfigProblem {
  message: string;
  field?: string;
}

/**
 * Reads and validates `<dir>/config.json` of the entry `name@version`, exactly as the registry
 * reads a repository entry: the schema, the name against the directory's and a known runtime.
 */
export function readModelConfig(
  dir: string,
  name: string,
  version: number,
  loaders: Readonly<Record<string, ModelLoader>> = DEFAULT_LOADERS,
): { info: ModelInfo } | { problem: ConfigProblem } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    return {
      problem: { message: `cannot read config.json: ${err instanceof Error ? err.message : String(err)}` },
    };
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return {
      problem: {
        message: `invalid config.json: ${describeZodError(parsed.error)}`,
        field: first?.path.length ? `config.json ${first.path.join('.')}` : 'config.json',
      },
    };
  }
  const c = parsed.data;
  if (c.name !== name) {
    return {
      problem: {
        message: `config.json name '${c.name}' does not match directory '${name}'`,
        field: 'config.json name',
      },
    };
  }
  if (!loaders[c.runtime]) {
    return {
      problem: {
        message: `unknown runtime '${c.runtime}' (known: ${Object.keys(loaders).join(', ')})`,
        field: 'config.json runtime',
      },
    };
  }
  const info: ModelInfo = {
    id: `${name}@${version}`,
    name,
    version,
    task: c.task as Task,
    maxLength: c.max_length ?? classifierMaxLength(c),
    dir,
    runtime: c.runtime,
    default: c.default ?? false,
    config: Object.freeze({ ...c }),
  };
  if (c.labels) info.labels = [...c.labels];
  if (c.source_lang) info.source_lang = c.source_lang;
  if (c.target_lang) info.target_lang = c.target_lang;
  return { info };
}

/**
 * Checks the model in `dir` as `name@version` exactly as the registry checks a repository entry
 * (config.json, then its files: loading checks every part against the others and runs a probe
 * document), then releases it. Unlike the registry, which loads only {@link CHECKED_RUNTIMES} when
 * it reads a repository, every runtime is loaded (an upload is checked once, before it is kept).
 * @returns the entry, as the registry would list it (`dir` = `dir`).
 * @throws ModelError MODEL_LOAD_FAILED or MODEL_INCOMPATIBLE naming the file and the field.
 */
export async function checkModelDirectory(
  dir: string,
  name: string,
  version: number,
  options: { loaders?: Record<string, ModelLoader>; ready?: Promise<unknown> } = {},
): Promise<ModelInfo> {
  const loaders = { ...DEFAULT_LOADERS, ...options.loaders };
  const parsed = readModelConfig(dir, name, version, loaders);
  if ('problem' in parsed) {
    throw new ModelError('MODEL_LOAD_FAILED', parsed.problem.message, 'config.json', parsed.problem.field);
  }
  await options.ready;
  let model: TaskModel;
  try {
    model = await loaders[parsed.info.runtime!]!({ ...parsed.info });
  } catch (err) {
    throw asModelError(err);
  }
  model.dispose();
  return parsed.info;
}

/** True when `name` may name a model (a repository directory, a tenant model). */
export function isValidModelName(name: string): boolean {
  return NAME_RE.test(name);
}

/**
 * One default per task: the latest version of a name whose latest version says `default: true`
 * (a name from MODELS_DIR wins over a bundled one, then the alphabetically first); without any
 * such name, the alphabetically first name's latest version.
 */
function markDefaults(models: ScannedModel[]): ModelInfo[] {
  const latest = new Map<string, ScannedModel>();
  for (const m of models) latest.set(m.name, m);
  const defaults = new Map<Task, ScannedModel>();
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

/** `max_length` of a text-classifier that leaves it out: its `input.length`, else the default. */
function classifierMaxLength(c: Record<string, unknown>): number {
  const input = c.input as { length?: unknown } | undefined;
  return typeof input?.length === 'number' && Number.isInteger(input.length) && input.length > 0
    ? input.length
    : DEFAULT_MAX_LENGTH;
}

/** Any load error as a ModelError (an error that is not one is a file the loader could not read). */
export function asModelError(err: unknown): ModelError {
  if (err instanceof ModelError) return err;
  const code = modelErrorCode(err);
  const e = err as { message?: unknown; file?: string; field?: string };
  const message = (err instanceof Error ? err.message : String(e?.message ?? err))
    .split('\n')[0]!
    .slice(0, 500);
  return new ModelError(code ?? 'MODEL_LOAD_FAILED', message, e?.file, e?.field);
}

/** The API error for a model that exists but is not served. */
function notServed(id: string, problem: RegistryProblem): AppError {
  return new AppError('UNKNOWN_MODEL', `model '${id}' is not served: ${problem.message}`);
}
