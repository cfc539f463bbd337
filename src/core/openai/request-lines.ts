import type { DocumentItem, DocumentSource } from '../batches';
import type { ErrorDetail } from '../errors';
import type { Task } from '../models/types';

/**
 * The request lines of an OpenAI batch input file and how they map onto docbatch documents.
 *
 * A line is `{"custom_id", "method": "POST", "url", "body": {"model", "input", ...options}}`. `url`
 * must be the batch's endpoint (one of {@link OPENAI_ENDPOINTS}: the task), `custom_id` becomes the
 * document id, `body.input` its text, `body.model` the batch's model and the rest of `body` the
 * batch's task options. One batch has one model and one set of options, so every line must carry the
 * same `model` and the same options as the first request line (the reference).
 *
 * {@link RequestLineMapper} turns the lines into the document items the ingest path validates
 * (`DocumentValidator`: text and id rules, duplicate ids, limits, line numbers); a line that is not a
 * valid request becomes an error item, and the mapper remembers its OpenAI error code.
 */

/** The OpenAI-style endpoints of docbatch's tasks. */
export const OPENAI_ENDPOINTS: Readonly<Record<string, Task>> = {
  '/v1/classifications': 'classification',
  '/v1/summaries': 'summarization',
  '/v1/translations': 'translation',
};

/** The `object` of a response body, per task. */
export const RESPONSE_OBJECTS: Readonly<Record<Task, string>> = {
  classification: 'classification',
  summarization: 'summary',
  translation: 'translation',
};

/** One entry of a batch's `errors.data` (OpenAI's BatchError). */
export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** What the reference line (the first request line that parses) says for the whole batch. */
export interface ReferenceRequest {
  line: number;
  /** `body.model` when it is a string. */
  model?: string;
  /** `body` without `model` and `input`: the batch's task options. */
  options: Record<string, unknown>;
}

const LINE_FIELDS = new Set(['custom_id', 'method', 'url', 'body']);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` compare equal. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** `body` without `model` and `input`. */
function optionsOf(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (k !== 'model' && k !== 'input') out[k] = v;
  return out;
}

/**
 * The reference request: the first line of `source` that parses as an object with an object `body`
 * (null when none does), and whether the file has no line at all (only blank lines). Reads no further
 * than the reference line.
 */
export async function readReference(
  source: DocumentSource,
): Promise<{ empty: boolean; reference: ReferenceRequest | null }> {
  let empty = true;
  for await (const items of source) {
    for (const item of items) {
      empty = false;
      if (!('json' in item)) continue;
      let v: unknown;
      try {
        v = JSON.parse(item.json);
      } catch {
        continue;
      }
      if (!isObject(v) || !isObject(v.body)) continue;
      const model = typeof v.body.model === 'string' ? v.body.model : undefined;
      const reference = {
        line: item.line,
        ...(model !== undefined ? { model } : {}),
        options: optionsOf(v.body),
      };
      return { empty: false, reference };
    }
  }
  return { empty, reference: null };
}

/** Largest number of line codes remembered (the validator reports at most 100 lines anyway). */
const MAX_REMEMBERED = 10_000;

export class RequestLineMapper {
  /** The OpenAI code and param of each line error the mapper produced, by line. */
  private readonly codes = new Map<number, { code: string; param: string | null }>();
  private readonly optionsKey: string;

  constructor(
    private readonly endpoint: string,
    private readonly reference: ReferenceRequest | null,
  ) {
    this.optionsKey = canonicalJson(reference?.options ?? {});
  }

  /** The document items of a source of request lines. */
  source(lines: DocumentSource): DocumentSource {
    return {
      [Symbol.asyncIterator]: async function* (this: RequestLineMapper) {
        for await (const items of lines) yield items.map((item) => this.map(item));
      }.bind(this),
      drain: () => lines.drain(),
      digest: () => lines.digest(),
    };
  }

  private fail(line: number, code: string, param: string | null, message: string): DocumentItem {
    if (this.codes.size < MAX_REMEMBERED) this.codes.set(line, { code, param });
    return { line, error: message, ...(param ? { field: param } : {}) };
  }

  /** One line as a document item (`{id, text}`), or an error item. */
  map(item: DocumentItem): DocumentItem {
    if (!('json' in item)) {
      if ('error' in item) return this.fail(item.line, 'invalid_json_line', null, item.error);
      return item;
    }
    const line = item.line;
    let v: unknown;
    try {
      v = JSON.parse(item.json);
    } catch {
      return this.fail(line, 'invalid_json_line', null, 'This line is not parseable as valid JSON.');
    }
    if (!isObject(v)) return this.fail(line, 'invalid_request', null, 'Each line must be a JSON object.');
    for (const field of ['custom_id', 'method', 'url', 'body']) {
      if (!(field in v)) {
        return this.fail(line, 'missing_required_parameter', field, `Missing required parameter: ${field}.`);
      }
    }
    const unknown = Object.keys(v).filter((k) => !LINE_FIELDS.has(k));
    if (unknown.length > 0) {
      return this.fail(
        line,
        'invalid_request',
        unknown[0] ?? null,
        `Unknown field(s): ${unknown.join(', ')}.`,
      );
    }
    if (typeof v.custom_id !== 'string') {
      return this.fail(line, 'invalid_request', 'custom_id', 'custom_id must be a string.');
    }
    if (v.method !== 'POST') {
      return this.fail(
        line,
        'invalid_request',
        'method',
        `Method ${JSON.stringify(v.method)} is not supported: the method of every request is "POST".`,
      );
    }
    if (v.url !== this.endpoint) {
      return this.fail(
        line,
        'url_mismatch',
        'url',
        `The URL ${JSON.stringify(v.url)} of this request does not match the batch endpoint ${JSON.stringify(this.endpoint)}; every request of a batch goes to its endpoint (${Object.keys(OPENAI_ENDPOINTS).join(', ')}).`,
      );
    }
    const body = v.body;
    if (!isObject(body)) return this.fail(line, 'invalid_request', 'body', 'body must be a JSON object.');
    if (!('model' in body)) {
      return this.fail(
        line,
        'missing_required_parameter',
        'body.model',
        'Missing required parameter: body.model.',
      );
    }
    if (typeof body.model !== 'string') {
      return this.fail(line, 'invalid_request', 'body.model', 'body.model must be a string.');
    }
    if (this.reference?.model !== undefined && body.model !== this.reference.model) {
      return this.fail(
        line,
        'model_mismatch',
        'body.model',
        `The model ${JSON.stringify(body.model)} of this request does not match the model ${JSON.stringify(this.reference.model)} of the batch (line ${this.reference.line}); a batch runs one model.`,
      );
    }
    if (!('input' in body)) {
      return this.fail(
        line,
        'missing_required_parameter',
        'body.input',
        'Missing required parameter: body.input.',
      );
    }
    if (typeof body.input !== 'string') {
      return this.fail(line, 'invalid_request', 'body.input', 'body.input must be a string.');
    }
    if (canonicalJson(optionsOf(body)) !== this.optionsKey) {
      return this.fail(
        line,
        'options_mismatch',
        'body',
        `The options of this request (the fields of body other than model and input) differ from those of line ${this.reference?.line ?? 1}; a batch runs with one set of options.`,
      );
    }
    return { line, value: { id: v.custom_id, text: body.input } };
  }

  /** A line problem reported by the ingest path, in OpenAI's BatchError shape. */
  toBatchError(d: ErrorDetail): BatchLineError {
    const line = d.line ?? null;
    const own = line !== null ? this.codes.get(line) : undefined;
    if (own) return { code: own.code, message: d.message, param: own.param, line };
    if (d.field === 'id') {
      if (d.message.startsWith('duplicate id')) {
        return {
          code: 'duplicate_custom_id',
          message:
            'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.',
          param: 'custom_id',
          line,
        };
      }
      return { code: 'invalid_request', message: `custom_id ${d.message}.`, param: 'custom_id', line };
    }
    if (d.field === 'text') {
      return { code: 'invalid_request', message: `body.input ${d.message}.`, param: 'body.input', line };
    }
    return { code: 'invalid_json_line', message: d.message, param: null, line };
  }
}
