import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import type { Request } from 'express';
import { arraySource, batchFieldsFromQuery, ndjsonSource } from '../../core/batches';
import type { DocumentSource } from '../../core/batches';
import type { ApiConfig } from '../../core/config';
import { allowQuery, rawQuery } from '../strict-url';
import { guardBody } from '../body-guard';
import { MemoryBudget } from '../memory-budget';
import type { BodyLimits } from '../body-guard';
import { AppError } from '../../core/errors';

/**
 * Reads a `POST /v1/batches` request into batch fields and a document source, per Content-Type:
 * - `application/json`: the whole body (at most MAX_JSON_BODY_BYTES) with a `documents` array;
 * - `application/x-ndjson` (also `application/ndjson`, `application/jsonl`, `application/x-jsonl`,
 *   `application/jsonlines`, `application/x-jsonlines`): streamed, batch fields from the query.
 * Anything else is 415. A declared Content-Length over the limit is 413 before any byte is read.
 */

export const NDJSON_TYPES = [
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonl',
  'application/jsonlines',
  'application/x-jsonlines',
];

export interface ParsedUpload {
  fields: unknown;
  documents: DocumentSource;
  form: 'json' | 'ndjson';
}

function mediaType(req: Request): { type: string; charset?: string } {
  const raw = req.get('content-type') ?? '';
  const [type, ...params] = raw.split(';').map((s) => s.trim());
  const charset = params
    .find((p) => /^charset=/i.test(p))
    ?.slice(8)
    .replace(/"/g, '')
    .toLowerCase();
  return { type: (type ?? '').toLowerCase(), charset };
}

function checkDeclaredLength(req: Request, max: number): void {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Request body exceeds ${max} bytes.`);
  }
}

function unsupported(type: string): AppError {
  return new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Unsupported Content-Type ${JSON.stringify(type || '(none)')}: send application/json or application/x-ndjson.`,
  );
}

const budgets = new WeakMap<ApiConfig, MemoryBudget>();

/** The JSON-body memory budget of this API process (one per configuration). */
export function jsonBodyBudget(config: ApiConfig): MemoryBudget {
  let b = budgets.get(config);
  if (!b) {
    b = new MemoryBudget(config.JSON_BODY_MEMORY_BYTES);
    budgets.set(config, b);
  }
  return b;
}

/**
 * Reads a JSON-form body whole, within the process's JSON-body memory budget: its bytes are reserved
 * (the declared Content-Length at once, else as they arrive, in 4 MiB steps) until the response ends.
 */
async function readJsonBody(req: Request, config: ApiConfig): Promise<Buffer> {
  const max = config.MAX_JSON_BODY_BYTES;
  const budget = jsonBodyBudget(config);
  const releases: (() => void)[] = [];
  const releaseAll = (): void => {
    for (const r of releases.splice(0)) r();
  };
  if (req.res) req.res.once('close', releaseAll);
  else req.once('close', releaseAll);
  let reserved = 0;
  const declared = Number(req.get('content-length'));
  if (Number.isInteger(declared) && declared > 0) {
    releases.push(await budget.reserve(declared));
    reserved = declared;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of guardBody(req as AsyncIterable<Buffer>, req, bodyLimits(config))) {
    bytes += chunk.length;
    if (bytes > max) throw new AppError('PAYLOAD_TOO_LARGE', `Request body exceeds ${max} bytes.`);
    if (bytes > reserved) {
      const step = Math.max(4 * 1024 * 1024, bytes - reserved);
      releases.push(await budget.reserve(step));
      reserved += step;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Batch fields in a canonical order, so the same query in another order is the same request. */
function canonical(fields: Record<string, unknown>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
}

/**
 * Decompresses a gzip body; a corrupt stream is 400 INVALID_REQUEST. A body that inflates more than
 * `maxRatio` times the compressed bytes read so far (once past `floorBytes`) is 413 PAYLOAD_TOO_LARGE at
 * once: a 1 MB bomb of 1 GiB of blank lines is refused after ~100 MB, not parsed for minutes.
 */
async function* gunzipped(req: Request, maxRatio: number, floorBytes: number): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  let compressed = 0;
  let inflated = 0;
  req.on('data', (c: Buffer) => (compressed += c.length));
  req.on('error', (err) => gunzip.destroy(err));
  req.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      inflated += chunk.length;
      if (inflated > floorBytes && inflated > maxRatio * compressed) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `The gzip body inflates more than ${maxRatio} times its compressed size (GZIP_MAX_RATIO); send it uncompressed or split it.`,
        );
      }
      yield chunk;
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('Z_')) {
      throw new AppError('INVALID_REQUEST', 'The body is not a valid gzip stream.');
    }
    throw err;
  } finally {
    req.unpipe(gunzip);
    gunzip.destroy();
  }
}

export async function parseUpload(req: Request, config: ApiConfig): Promise<ParsedUpload> {
  const { type, charset } = mediaType(req);
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported charset ${JSON.stringify(charset)}: bodies are UTF-8.`,
    );
  }
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && !(encoding === 'gzip' && NDJSON_TYPES.includes(type))) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported Content-Encoding ${JSON.stringify(encoding)}: NDJSON uploads may be gzip, JSON bodies are identity.`,
    );
  }
  if (type === 'application/json') {
    checkDeclaredLength(req, config.MAX_JSON_BODY_BYTES);
    const body = await readJsonBody(req, config);
    const digest = createHash('sha256').update('json\n').update(body).digest('hex');
    if (!isUtf8(body)) throw new AppError('INVALID_REQUEST', 'Request body is not valid UTF-8.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new AppError('INVALID_REQUEST', 'Request body is not valid JSON.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new AppError('INVALID_REQUEST', 'Request body must be a JSON object.');
    }
    allowQuery(req, []);
    const { documents, ...fields } = parsed as Record<string, unknown>;
    if (!Array.isArray(documents)) {
      throw new AppError('INVALID_REQUEST', 'documents must be an array of document objects.', [
        { field: 'documents', message: 'must be an array of document objects' },
      ]);
    }
    return { fields, documents: arraySource(documents, digest, body.length), form: 'json' };
  }
  if (NDJSON_TYPES.includes(type)) {
    checkDeclaredLength(req, config.MAX_BODY_BYTES);
    const fields = batchFieldsFromQuery(queryObject(rawQuery(req)));
    // gzip: MAX_BODY_BYTES applies to the decompressed bytes too (a small bomb is cut off early).
    const body = guardBody(
      encoding === 'gzip'
        ? gunzipped(req, config.GZIP_MAX_RATIO, config.GZIP_RATIO_FLOOR_BYTES)
        : (req as AsyncIterable<Buffer>),
      req,
      bodyLimits(config),
    );
    return {
      fields,
      form: 'ndjson',
      documents: ndjsonSource(body, {
        maxBytes: config.MAX_BODY_BYTES,
        // A document of MAX_DOC_CHARS characters, each escaped as \uXXXX, plus 1 MiB for id and metadata.
        maxLineBytes: config.MAX_DOC_CHARS * 6 + 1024 * 1024,
        hashPrefix: `ndjson\n${canonical(fields)}\n`,
      }),
    };
  }
  throw unsupported(type);
}

/**
 * The streamed NDJSON body of a request whose fields come from the query (training uploads): the same
 * media types, gzip handling, body limits and line splitting as the NDJSON form of `POST /v1/batches`,
 * at most `maxBytes` (413 beyond; checked against Content-Length before reading). 415 for any other type.
 */
export function ndjsonUpload(
  req: Request,
  config: ApiConfig,
  maxBytes: number,
): { fields: Record<string, unknown>; source: DocumentSource } {
  const { type, charset } = mediaType(req);
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported charset ${JSON.stringify(charset)}: bodies are UTF-8.`,
    );
  }
  if (!NDJSON_TYPES.includes(type)) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported Content-Type ${JSON.stringify(type || '(none)')}: send application/x-ndjson.`,
    );
  }
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Unsupported Content-Encoding ${JSON.stringify(encoding)}: NDJSON uploads may be gzip or identity.`,
    );
  }
  checkDeclaredLength(req, maxBytes);
  const fields = queryObject(rawQuery(req));
  const body = guardBody(
    encoding === 'gzip'
      ? gunzipped(req, config.GZIP_MAX_RATIO, config.GZIP_RATIO_FLOOR_BYTES)
      : (req as AsyncIterable<Buffer>),
    req,
    bodyLimits(config),
  );
  return {
    fields,
    source: ndjsonSource(body, {
      maxBytes,
      maxLineBytes: config.MAX_DOC_CHARS * 6 + 1024 * 1024,
      hashPrefix: `ndjson\n${canonical(fields)}\n`,
    }),
  };
}

/** Query parameters as an object (a repeated name becomes an array, refused by batchFieldsFromQuery). */
function queryObject(entries: [string, string][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...(prev as string[]), v] : [prev, v];
  }
  return out;
}

function bodyLimits(config: ApiConfig): BodyLimits {
  return {
    idleMs: config.UPLOAD_IDLE_TIMEOUT_MS,
    minBytesPerSecond: config.UPLOAD_MIN_BYTES_PER_SECOND,
    graceMs: config.UPLOAD_RATE_GRACE_MS,
  };
}
