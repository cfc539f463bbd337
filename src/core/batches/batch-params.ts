import { z } from 'zod';
import { AppError } from '../errors';
import type { ErrorDetail } from '../errors';
import { TASKS } from '../models/types';
import type { ModelInfo, Task } from '../models/types';
import { jsonDeeperThan, MAX_METADATA_DEPTH } from './document-validator';
import { asModelError } from './model-catalog';
import { badString, findBadString } from './string-checks';
import type { ModelCatalog } from './model-catalog';

/**
 * The batch-level fields of a submission (everything but the documents), their validation and
 * the model resolution. Shared by the JSON body form and the NDJSON query-parameter form.
 */

/** `completion_window` bounds: 1 minute to 7 days. */
export const MIN_COMPLETION_WINDOW_S = 60;
export const MAX_COMPLETION_WINDOW_S = 7 * 24 * 3600;
export const DEFAULT_COMPLETION_WINDOW = '24h';
const WINDOW_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds of a completion window like `90m`, `24h`, `7d`; null if malformed or out of range. */
export function parseCompletionWindow(value: string): number | null {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(value);
  if (!m) return null;
  const seconds = Number(m[1]) * (WINDOW_UNITS[m[2] as string] ?? 0);
  return seconds >= MIN_COMPLETION_WINDOW_S && seconds <= MAX_COMPLETION_WINDOW_S ? seconds : null;
}

/** Longest webhook_url accepted (INVALID_WEBHOOK_URL beyond it). */
export const MAX_WEBHOOK_URL_CHARS = 2048;

const jsonObject = z.record(z.string(), z.unknown());

/** Raw batch fields as a client sends them (JSON body, or query parameters already decoded). */
export const batchFieldsSchema = z.strictObject({
  task: z.string({ error: 'is required' }).min(1, 'is required'),
  model: z.string().min(1).max(200).optional(),
  options: jsonObject.optional(),
  metadata: jsonObject
    .refine((m) => Object.keys(m).length <= 16, 'may have at most 16 keys')
    .refine((m) => !jsonDeeperThan(m, MAX_METADATA_DEPTH), {
      message: `must be nested at most ${MAX_METADATA_DEPTH} levels deep`,
      abort: true,
    })
    .refine((m) => JSON.stringify(m).length <= 16_384, 'must serialize to at most 16384 characters')
    .optional(),
  priority: z.number().int('must be an integer').min(1).max(10).optional(),
  webhook_url: z.string().optional().nullable(),
  completion_window: z
    .string()
    .refine(
      (v) => parseCompletionWindow(v) !== null,
      'must be a duration from 1m to 7d such as "1h", "24h", "7d"',
    )
    .optional(),
});
export type BatchFields = z.infer<typeof batchFieldsSchema>;

const optionSchemas = {
  classification: z.strictObject({ top_k: z.number().int('must be an integer').min(1).optional() }),
  summarization: z.strictObject({
    max_sentences: z.number().int('must be an integer').min(1).max(1000).optional(),
    ratio: z.number().gt(0).lte(1).optional(),
  }),
  translation: z.strictObject({
    source_lang: z
      .string()
      .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'must be a language code like "en"')
      .optional(),
    target_lang: z
      .string()
      .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'must be a language code like "es"')
      .optional(),
  }),
} satisfies Record<Task, z.ZodType>;

/** A validated submission, model resolved. */
export interface ResolvedBatchParams {
  task: Task;
  /** `name@version` of the resolved model. */
  model: string;
  /** The tenant model's row id when the model is the tenant's own (null: a shared model). */
  tenantModelId: string | null;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  priority: number;
  webhookUrl: string | null;
  completionWindow: string;
  completionWindowSeconds: number;
}

function zodDetails(error: z.ZodError, prefix = ''): ErrorDetail[] {
  return error.issues.map((i) => {
    const field = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    if (i.code === 'unrecognized_keys') {
      return { field: field || undefined, message: `unknown field(s): ${i.keys.join(', ')}` };
    }
    return { field: field || undefined, message: i.message };
  });
}

/** Throws INVALID_REQUEST listing every problem of `value` against `schema`. */
export function parseOrInvalid<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  prefix = '',
): z.infer<T> {
  const res = schema.safeParse(value);
  if (!res.success) {
    const details = zodDetails(res.error, prefix);
    const first = details[0];
    throw new AppError(
      'INVALID_REQUEST',
      `Invalid ${what}${first ? `: ${first.field ? `${first.field} ` : ''}${first.message}` : ''}.`,
      details,
    );
  }
  return res.data;
}

/** Checks that a webhook URL is an absolute http(s) URL; the SSRF policy is applied by the caller. */
export function assertHttpUrl(url: string): void {
  if (url.length > MAX_WEBHOOK_URL_CHARS) {
    throw new AppError(
      'INVALID_WEBHOOK_URL',
      `webhook_url must be at most ${MAX_WEBHOOK_URL_CHARS} characters.`,
      [{ field: 'webhook_url', message: `must be at most ${MAX_WEBHOOK_URL_CHARS} characters` }],
    );
  }
  const problem = badString(url);
  if (problem) {
    throw new AppError('INVALID_WEBHOOK_URL', `webhook_url ${problem}.`, [
      { field: 'webhook_url', message: problem },
    ]);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('INVALID_WEBHOOK_URL', 'webhook_url must be an absolute http(s) URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new AppError('INVALID_WEBHOOK_URL', 'webhook_url must use http or https.');
  }
  if (parsed.username || parsed.password) {
    throw new AppError('INVALID_WEBHOOK_URL', 'webhook_url must not carry credentials.');
  }
}

async function pickModel(
  catalog: ModelCatalog,
  task: Task,
  fields: BatchFields,
  options: Record<string, unknown>,
): Promise<ModelInfo> {
  if (task === 'translation' && !fields.model && (options.source_lang || options.target_lang)) {
    // No model named: pick the model for the requested pair (the default model when it matches).
    const src = (options.source_lang as string | undefined) ?? 'en';
    const tgt = (options.target_lang as string | undefined) ?? 'es';
    const all = (await catalog.list()).filter((m) => m.task === 'translation');
    const matches = all.filter((m) => (m.source_lang ?? 'en') === src && (m.target_lang ?? 'es') === tgt);
    const chosen = matches.find((m) => m.default) ?? matches.sort((a, b) => b.version - a.version)[0];
    if (!chosen) {
      throw new AppError('UNKNOWN_MODEL', `No translation model translates ${src} to ${tgt}.`);
    }
    return chosen;
  }
  try {
    return await catalog.resolve(task, fields.model);
  } catch (err) {
    return asModelError(err);
  }
}

/**
 * Validates the batch fields, resolves the model and validates the task options against it:
 * - unknown task -> 422 UNKNOWN_TASK; unknown model (or a model of another task) -> 422 UNKNOWN_MODEL;
 * - translation `source_lang`/`target_lang` the chosen model does not translate -> 422 UNKNOWN_MODEL;
 * - `top_k` larger than the model's label count -> 400 INVALID_REQUEST;
 * - any other malformed field -> 400 INVALID_REQUEST with one detail per problem.
 */
export async function resolveBatchParams(raw: unknown, catalog: ModelCatalog): Promise<ResolvedBatchParams> {
  // NUL and lone surrogates anywhere in the batch fields: refused with the field, never stored altered.
  const bad = findBadString(raw, '');
  if (bad) {
    const code = bad.field === 'webhook_url' ? 'INVALID_WEBHOOK_URL' : 'INVALID_REQUEST';
    throw new AppError(code, `Invalid request: ${bad.field} ${bad.message}.`, [bad]);
  }
  const fields = parseOrInvalid(batchFieldsSchema, raw, 'request');
  if (!(TASKS as readonly string[]).includes(fields.task)) {
    throw new AppError('UNKNOWN_TASK', `Unknown task "${fields.task}"; use one of ${TASKS.join(', ')}.`);
  }
  const task = fields.task as Task;
  const options = parseOrInvalid(optionSchemas[task], fields.options ?? {}, `options for ${task}`, 'options');
  const model = await pickModel(catalog, task, fields, options);
  if (model.task !== task) {
    throw new AppError('UNKNOWN_MODEL', `Model "${model.id}" is a ${model.task} model, not ${task}.`);
  }
  if (task === 'translation') {
    const src = (options as { source_lang?: string }).source_lang;
    const tgt = (options as { target_lang?: string }).target_lang;
    if (
      (src && model.source_lang && src !== model.source_lang) ||
      (tgt && model.target_lang && tgt !== model.target_lang)
    ) {
      throw new AppError(
        'UNKNOWN_MODEL',
        `Model "${model.id}" translates ${model.source_lang ?? '?'} to ${model.target_lang ?? '?'}, not ${src ?? model.source_lang} to ${tgt ?? model.target_lang}.`,
      );
    }
  }
  if (task === 'classification') {
    const topK = (options as { top_k?: number }).top_k;
    if (topK !== undefined && model.labels && topK > model.labels.length) {
      throw new AppError(
        'INVALID_REQUEST',
        `options.top_k must be at most ${model.labels.length} for ${model.id}.`,
        [{ field: 'options.top_k', message: `must be at most ${model.labels.length}` }],
      );
    }
  }
  const window = fields.completion_window ?? DEFAULT_COMPLETION_WINDOW;
  const webhookUrl = fields.webhook_url ?? null;
  if (webhookUrl !== null) assertHttpUrl(webhookUrl);
  return {
    task,
    model: model.id,
    tenantModelId: model.tenantModelId ?? null,
    options,
    // The parsed value, not zod's copy (which drops a `__proto__` key); validated above.
    metadata: (raw as { metadata?: Record<string, unknown> }).metadata ?? {},
    priority: fields.priority ?? 5,
    webhookUrl,
    completionWindow: window,
    completionWindowSeconds: parseCompletionWindow(window) ?? 86_400,
  };
}

/**
 * Batch fields of the NDJSON form, from query parameters: `priority` as an integer string,
 * `options` and `metadata` as URL-encoded JSON objects. Unknown parameters are refused.
 */
export function batchFieldsFromQuery(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value) || typeof value !== 'string') {
      throw new AppError('INVALID_REQUEST', `Query parameter \`${key}\` must be given once.`, [
        { field: key, message: 'must be given once' },
      ]);
    }
    if (key === 'priority') {
      out.priority = /^-?[0-9]+$/.test(value) ? Number(value) : value;
    } else if (key === 'options' || key === 'metadata') {
      try {
        out[key] = JSON.parse(value) as unknown;
      } catch {
        throw new AppError('INVALID_REQUEST', `Query parameter \`${key}\` must be URL-encoded JSON.`, [
          { field: key, message: 'must be a URL-encoded JSON object' },
        ]);
      }
    } else {
      out[key] = value;
    }
  }
  return out;
}
