import { z } from 'zod';
import { cancelBatch, createBatch, ndjsonSource, parseCompletionWindow } from '../batches';
import type { BatchDeps } from '../batches';
import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { newId } from '../ids';
import { findBadString } from '../batches/string-checks';
import { writeBatchFiles } from './batch-files';
import { fileNotFound, findFile, readFileBytes } from './file-store';
import type { OpenAiList } from './file-store';
import { needsFiles, OPENAI_BATCH_SELECT, toOpenAiBatch } from './openai-batch-object';
import type { OpenAiBatchObject, OpenAiBatchRow } from './openai-batch-object';
import { OpenAiError } from './openai-error';
import { OPENAI_ENDPOINTS, readReference, RequestLineMapper } from './request-lines';
import type { BatchLineError } from './request-lines';

/**
 * The Batches API of the OpenAI-compatible surface. A batch is created from an uploaded input file: its
 * request lines stream through docbatch's ingest path (`createBatch`: the same validation with line
 * numbers, the same limits, one transaction) into a docbatch batch whose id is the OpenAI batch's id,
 * so processing, webhooks and the dashboard are the native ones. An input file with bad lines creates
 * no docbatch batch and stores no document: the OpenAI batch is `failed` at once with the line errors
 * in `errors.data`, which is how OpenAI reports them.
 */

/** OpenAI batches a client may see: not one whose docbatch batch is being deleted (`deleted_at` set). */
const VISIBLE = '(o.batch_id IS NULL OR b.deleted_at IS NULL)';

/** Batch errors kept on a failed batch (the ingest path reports at most 100 lines). */
const MAX_BATCH_ERRORS = 100;

const metadataSchema = z
  .record(
    z.string().max(64, 'keys must be at most 64 characters'),
    z.string({ error: 'values must be strings' }).max(512, 'values must be at most 512 characters'),
    { error: 'must be an object of strings' },
  )
  .refine((m) => Object.keys(m).length <= 16, 'may have at most 16 keys');

const createSchema = z.strictObject({
  input_file_id: z.string({ error: 'is required' }).min(1, 'is required'),
  endpoint: z.string({ error: 'is required' }),
  completion_window: z.string({ error: 'is required' }),
  metadata: metadataSchema.nullable().optional(),
  /** docbatch extensions: the batch's webhook (signed like every docbatch webhook) and priority. */
  webhook_url: z.string().nullable().optional(),
  priority: z.number().int('must be an integer').min(1).max(10).optional(),
});

function invalid(message: string, param: string | null, code = 'invalid_request'): OpenAiError {
  return new OpenAiError('INVALID_REQUEST', message, param, code);
}

function parseCreate(body: unknown): z.infer<typeof createSchema> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object.', null);
  }
  if ('output_expires_after' in body) {
    throw invalid(
      'output_expires_after is not supported: docbatch keeps output files until they are deleted.',
      'output_expires_after',
      'unsupported_parameter',
    );
  }
  const bad = findBadString(body, '');
  if (bad) throw invalid(`${bad.field} ${bad.message}.`, bad.field);
  const res = createSchema.safeParse(body);
  if (!res.success) {
    const issue = res.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      throw invalid(
        `Unrecognized request argument supplied: ${issue.keys.join(', ')}`,
        issue.keys[0] ?? null,
        'unknown_parameter',
      );
    }
    const param = issue?.path.map(String).join('.') || null;
    throw invalid(`Invalid ${param ?? 'request'}: ${issue?.message ?? 'invalid'}.`, param);
  }
  return res.data;
}

async function findBatch(q: Queryable, tenantId: string, id: string): Promise<OpenAiBatchRow | null> {
  const res = await q.query<OpenAiBatchRow>(
    `${OPENAI_BATCH_SELECT} WHERE o.id = $1 AND o.tenant_id = $2 AND ${VISIBLE}`,
    [id, tenantId],
  );
  return res.rows[0] ?? null;
}

function batchNotFound(id: string): OpenAiError {
  return new OpenAiError('NOT_FOUND', `No batch found with id '${id}'.`, null, 'not_found');
}

/** Stores a batch whose input failed validation: no docbatch batch, the line errors kept. */
async function storeFailed(
  q: Queryable,
  tenantId: string,
  req: z.infer<typeof createSchema>,
  errors: BatchLineError[],
): Promise<OpenAiBatchObject> {
  const id = newId('bat');
  await q.query(
    `INSERT INTO openai_batches (id, tenant_id, input_file_id, endpoint, completion_window, metadata, errors, failed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now())`,
    [
      id,
      tenantId,
      req.input_file_id,
      req.endpoint,
      req.completion_window,
      req.metadata ? JSON.stringify(req.metadata) : null,
      JSON.stringify(errors.slice(0, MAX_BATCH_ERRORS)),
    ],
  );
  return toOpenAiBatch((await findBatch(q, tenantId, id)) as OpenAiBatchRow);
}

/** A source of the input file's lines, as the NDJSON upload path reads them. */
function fileLines(deps: BatchDeps, fileId: string, maxBytes: number) {
  return ndjsonSource(readFileBytes(deps.db.pool, fileId), {
    maxBytes,
    maxLineBytes: deps.settings.maxDocChars * 6 + 1024 * 1024,
    hashPrefix: `openai\n${fileId}\n`,
  });
}

/**
 * Creates an OpenAI batch from an uploaded input file (see the module comment). Request problems
 * (unknown file, endpoint or field) are 4xx errors; problems of the file's lines give a `failed` batch.
 */
export async function createOpenAiBatch(
  deps: BatchDeps,
  tenantId: string,
  body: unknown,
): Promise<OpenAiBatchObject> {
  const req = parseCreate(body);
  const task = OPENAI_ENDPOINTS[req.endpoint];
  if (!task) {
    throw invalid(
      `Invalid value: '${req.endpoint}'. Supported values are: ${Object.keys(OPENAI_ENDPOINTS)
        .map((e) => `'${e}'`)
        .join(', ')}.`,
      'endpoint',
      'invalid_value',
    );
  }
  if (parseCompletionWindow(req.completion_window) === null) {
    throw invalid(
      `Invalid value: '${req.completion_window}'. completion_window is a duration from 1m to 7d such as '24h'.`,
      'completion_window',
      'invalid_value',
    );
  }
  const file = await findFile(deps.db.pool, tenantId, req.input_file_id);
  if (!file) throw fileNotFound(req.input_file_id, 'input_file_id');
  if (file.purpose !== 'batch') {
    throw invalid(
      `File ${file.id} has purpose '${file.purpose}'; the input file of a batch is uploaded with purpose 'batch'.`,
      'input_file_id',
    );
  }
  const maxBytes = Number(file.bytes) + 1;
  const { empty, reference } = await readReference(fileLines(deps, file.id, maxBytes));
  if (empty) {
    return storeFailed(deps.db.pool, tenantId, req, [
      { code: 'empty_file', message: 'The input file has no requests.', param: null, line: null },
    ]);
  }
  const mapper = new RequestLineMapper(req.endpoint, reference);
  const fields: Record<string, unknown> = {
    task,
    options: reference?.options ?? {},
    completion_window: req.completion_window,
    ...(reference?.model !== undefined ? { model: reference.model } : {}),
    ...(req.metadata ? { metadata: req.metadata } : {}),
    ...(req.webhook_url !== undefined ? { webhook_url: req.webhook_url } : {}),
    ...(req.priority !== undefined ? { priority: req.priority } : {}),
  };
  const refLine = reference?.line ?? null;
  try {
    const out = await createBatch(deps, {
      tenantId,
      fields,
      documents: mapper.source(fileLines(deps, file.id, maxBytes)),
      form: 'openai',
      beforeCommit: async (client, batch) => {
        await client.query(
          `INSERT INTO openai_batches (id, tenant_id, batch_id, input_file_id, endpoint, completion_window, metadata, created_at)
           VALUES ($1, $2, $1, $3, $4, $5, $6, $7)`,
          [
            batch.id,
            tenantId,
            req.input_file_id,
            req.endpoint,
            req.completion_window,
            req.metadata ? JSON.stringify(req.metadata) : null,
            batch.created_at,
          ],
        );
      },
    });
    return toOpenAiBatch((await findBatch(deps.db.pool, tenantId, out.batch.id)) as OpenAiBatchRow);
  } catch (err) {
    if (!(err instanceof AppError) || err instanceof OpenAiError) throw err;
    const lineErrors = lineErrorsOf(err, mapper, refLine);
    if (!lineErrors) {
      if (err.code === 'INVALID_WEBHOOK_URL')
        throw invalid(err.message, 'webhook_url', 'invalid_webhook_url');
      throw err;
    }
    return storeFailed(deps.db.pool, tenantId, req, lineErrors);
  }
}

/** The batch errors of a refused ingest, or null when the error is not about the file's content. */
function lineErrorsOf(
  err: AppError,
  mapper: RequestLineMapper,
  refLine: number | null,
): BatchLineError[] | null {
  switch (err.code) {
    case 'INVALID_DOCUMENT':
    case 'DUPLICATE_DOCUMENT_ID':
      return (err.details ?? []).map((d) => mapper.toBatchError(d));
    case 'UNKNOWN_MODEL':
      return [{ code: 'model_not_found', message: err.message, param: 'body.model', line: refLine }];
    case 'PAYLOAD_TOO_LARGE':
      return [{ code: 'too_many_tasks', message: err.message, param: null, line: null }];
    case 'INVALID_REQUEST': {
      // The reference line's options, checked against the task and model.
      const d = err.details?.[0];
      if (!d?.field?.startsWith('options')) return null;
      const param = `body${d.field.slice('options'.length)}`;
      return [{ code: 'invalid_request', message: `${param} ${d.message}.`, param, line: refLine }];
    }
    default:
      return null;
  }
}

/** Writes the files of a batch that finished and re-reads it; a batch whose files another request writes stays `finalizing`. */
async function withFiles(deps: BatchDeps, row: OpenAiBatchRow): Promise<OpenAiBatchRow> {
  if (!needsFiles(row)) return row;
  const written = await writeBatchFiles(deps.db, row);
  if (!written) return row;
  return (await findBatch(deps.db.pool, row.tenant_id, row.id)) ?? row;
}

/** A tenant's OpenAI batch (its files are written first if it just finished); 404 when absent. */
export async function getOpenAiBatch(
  deps: BatchDeps,
  tenantId: string,
  id: string,
): Promise<OpenAiBatchObject> {
  const row = await findBatch(deps.db.pool, tenantId, id);
  if (!row) throw batchNotFound(id);
  return toOpenAiBatch(await withFiles(deps, row));
}

/** A tenant's OpenAI batches, newest first; `after` is the last id of the previous page. */
export async function listOpenAiBatches(
  deps: BatchDeps,
  tenantId: string,
  opts: { limit?: number; after?: string } = {},
): Promise<OpenAiList<OpenAiBatchObject>> {
  const limit = opts.limit ?? 20;
  const params: unknown[] = [tenantId];
  let where = `o.tenant_id = $1 AND ${VISIBLE}`;
  if (opts.after !== undefined) {
    const after = await findBatch(deps.db.pool, tenantId, opts.after);
    if (!after) throw new OpenAiError('INVALID_REQUEST', `No batch found with id '${opts.after}'.`, 'after');
    params.push(after.created_at, after.id);
    where += ` AND (o.created_at, o.id) < ($2::timestamptz, $3)`;
  }
  params.push(limit + 1);
  const res = await deps.db.pool.query<OpenAiBatchRow>(
    `${OPENAI_BATCH_SELECT} WHERE ${where} ORDER BY o.created_at DESC, o.id DESC LIMIT $${params.length}`,
    params,
  );
  const data: OpenAiBatchObject[] = [];
  for (const row of res.rows.slice(0, limit)) data.push(toOpenAiBatch(await withFiles(deps, row)));
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: res.rows.length > limit,
  };
}

/**
 * Cancels an OpenAI batch through the native cancel (queued requests are cancelled at once, running
 * ones may finish): `cancelling`, then `cancelled` with its files. A batch that already ended is 409.
 */
export async function cancelOpenAiBatch(
  deps: BatchDeps,
  tenantId: string,
  id: string,
): Promise<OpenAiBatchObject> {
  const row = await findBatch(deps.db.pool, tenantId, id);
  if (!row) throw batchNotFound(id);
  if (row.batch_id === null) {
    throw new OpenAiError(
      'BATCH_FINISHED',
      `Cannot cancel a batch with status 'failed'.`,
      null,
      'batch_finished',
    );
  }
  try {
    await cancelBatch(deps, tenantId, row.batch_id);
  } catch (err) {
    if (err instanceof AppError && err.code === 'BATCH_FINISHED') {
      const status = toOpenAiBatch(row).status;
      throw new OpenAiError(
        'BATCH_FINISHED',
        `Cannot cancel a batch with status '${status}'.`,
        null,
        'batch_finished',
      );
    }
    throw err;
  }
  await deps.db.pool.query(
    'UPDATE openai_batches SET cancelling_at = now() WHERE id = $1 AND cancelling_at IS NULL',
    [row.id],
  );
  return getOpenAiBatch(deps, tenantId, id);
}
