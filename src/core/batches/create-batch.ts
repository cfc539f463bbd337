import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../errors';
import { newId } from '../ids';
import { chunkRanges, enqueueChunks } from '../queue/enqueue-chunks';
import { assertWebhookUrlAllowed } from '../webhooks/url-policy';
import type { BatchDeps } from './batch-deps';
import { toBatchObject } from './batch-object';
import type { BatchObject, BatchRow } from './batch-object';
import { BATCH_COLUMNS } from './batch-object';
import { resolveBatchParams } from './batch-params';
import type { ResolvedBatchParams } from './batch-params';
import type { DocumentSource } from './document-source';
import { DocumentValidator, MAX_ERROR_DETAILS } from './document-validator';
import { batchesCreated, documentsIngested, ingestSeconds } from './ingest-metrics';

/**
 * Batch creation: the one write path of both body forms.
 *
 * 1. `Idempotency-Key` already used (committed, within the TTL): the body is read and hashed, then
 *    the original batch is returned (same request) or 409 IDEMPOTENCY_KEY_REUSED (different one).
 * 2. Batch fields are validated and the model resolved (400/422), the webhook URL checked against
 *    the SSRF policy, then the rate limit (Redis) and the active-batch cap: all before any byte of
 *    the body is read.
 * 3. One transaction: the idempotency row first (its primary key (tenant_id, key) makes a concurrent
 *    identical request wait here, then replay), the batch row, then the documents through COPY as
 *    they stream in. Any invalid document: the transaction is abandoned (connection discarded, so
 *    the server rolls back at once), the rest of the body is only validated to report up to 100
 *    line-numbered errors, and nothing is stored.
 * 4. total/queued_count set, the active cap re-checked under a per-tenant advisory lock, COMMIT.
 * 5. Only then the chunk jobs are enqueued. If Redis fails at this point the batch is stored and
 *    its documents are queued; the pipeline's reconciler enqueues documents no job covers.
 */

export interface CreateBatchInput {
  tenantId: string;
  /** Batch fields as the client sent them (unvalidated). */
  fields: unknown;
  documents: DocumentSource;
  idempotencyKey?: string;
  /** Body form, for metrics (`json` or `ndjson`). */
  form?: 'json' | 'ndjson';
}

export interface CreateBatchResult {
  batch: BatchObject;
  /** True when an Idempotency-Key replay returned an existing batch (HTTP 200 instead of 201). */
  replayed: boolean;
}

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

/** Checks an Idempotency-Key header value: 1-255 visible ASCII characters. */
export function assertIdempotencyKey(key: string): void {
  if (!IDEMPOTENCY_KEY_RE.test(key)) {
    throw new AppError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters.', [
      { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  }
}

interface KeyRow {
  request_hash: string;
  batch_id: string;
}

async function findKey(deps: BatchDeps, tenantId: string, key: string): Promise<KeyRow | null> {
  const res = await deps.db.pool.query<KeyRow>(
    `SELECT request_hash, batch_id FROM idempotency_keys
      WHERE tenant_id = $1 AND key = $2 AND created_at > now() - make_interval(hours => $3)`,
    [tenantId, key, deps.settings.idempotencyTtlHours],
  );
  return res.rows[0] ?? null;
}

/** Answers a request whose Idempotency-Key is taken: same request -> the batch, else 409. */
async function replay(deps: BatchDeps, input: CreateBatchInput, row: KeyRow): Promise<CreateBatchResult> {
  await input.documents.drain();
  if (input.documents.digest() !== row.request_hash) {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was already used with a different request; use a new key for a new batch.',
    );
  }
  const res = await deps.db.pool.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1 AND tenant_id = $2`,
    [row.batch_id, input.tenantId],
  );
  const batch = res.rows[0];
  if (!batch)
    throw new AppError(
      'NOT_FOUND',
      `The batch created with this Idempotency-Key (${row.batch_id}) no longer exists.`,
    );
  return { batch: toBatchObject(batch), replayed: true };
}

/** The ingest transaction's outcome. */
type IngestOutcome = { kind: 'created'; row: BatchRow } | { kind: 'key-taken' };

/** Writes `data` to the COPY stream, waiting for drain (or failing with the stream's error). */
async function write(copy: NodeJS.WritableStream & { destroyed?: boolean }, data: string): Promise<void> {
  if (!copy.write(data)) await once(copy as unknown as NodeJS.EventEmitter, 'drain');
}

async function ingest(
  deps: BatchDeps,
  input: CreateBatchInput,
  params: ResolvedBatchParams,
): Promise<IngestOutcome> {
  const { db, settings } = deps;
  const batchId = newId('bat');
  const validator = new DocumentValidator({
    batchId,
    maxDocChars: settings.maxDocChars,
    maxDocs: settings.maxDocsPerBatch,
  });
  let client: PoolClient | undefined = await db.pool.connect();
  // A checked-out pg client has no 'error' listener of the pool: without this one, a connection
  // dropped mid-COPY would be an uncaught exception. The failure reaches us through the COPY stream.
  const onClientError = (): void => undefined;
  client.on('error', onClientError);
  /** Ends the transaction by discarding the connection: the server rolls back, locks are released at once. */
  const abandon = (): void => {
    if (!client) return;
    const c = client;
    client = undefined;
    // The listener stays: the discarded connection may still report the cut.
    c.release(new Error('batch upload rejected: transaction abandoned'));
  };
  try {
    await client.query('BEGIN');
    if (input.idempotencyKey) {
      await client.query(
        `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at <= now() - make_interval(hours => $3)`,
        [input.tenantId, input.idempotencyKey, settings.idempotencyTtlHours],
      );
      const ins = await client.query(
        `INSERT INTO idempotency_keys (tenant_id, key, request_hash, batch_id) VALUES ($1, $2, '', $3)
         ON CONFLICT DO NOTHING`,
        [input.tenantId, input.idempotencyKey, batchId],
      );
      if (ins.rowCount === 0) {
        await client.query('ROLLBACK');
        client.off('error', onClientError);
        client.release();
        client = undefined;
        return { kind: 'key-taken' };
      }
    }
    await client.query(
      `INSERT INTO batches (id, tenant_id, task, model, options, metadata, priority, webhook_url, status,
         completion_window, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, now() + make_interval(secs => $10))`,
      [
        batchId,
        input.tenantId,
        params.task,
        params.model,
        JSON.stringify(params.options),
        JSON.stringify(params.metadata),
        params.priority,
        params.webhookUrl,
        params.completionWindow,
        params.completionWindowSeconds,
      ],
    );
    const copy = client.query(
      copyFrom('COPY documents (batch_id, seq, client_id, text, metadata) FROM STDIN'),
    );
    let copyError: unknown;
    copy.on('error', (err: unknown) => {
      copyError ??= err;
    });
    // A COPY failure (Postgres gone, constraint) must end the upload even while the body is idle.
    // (Not Promise.race against one long-lived promise: every race would stay attached to it and
    // keep its chunk alive until the end of the upload.)
    const orCopyFailure = <T>(p: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (copyError) {
          reject(copyError);
          return;
        }
        const onError = (err: unknown): void => reject(err);
        copy.once('error', onError);
        p.then(
          (v) => {
            copy.off('error', onError);
            resolve(v);
          },
          (err: unknown) => {
            copy.off('error', onError);
            reject(err);
          },
        );
      });
    const items = input.documents[Symbol.asyncIterator]();
    let stoppedEarly = false;
    for (;;) {
      const next = client ? await orCopyFailure(items.next()) : await items.next();
      if (next.done) break;
      const rows = validator.accept(next.value);
      if (!validator.ok) {
        abandon();
        if (validator.errors.length >= MAX_ERROR_DETAILS) {
          stoppedEarly = true;
          break;
        }
        continue;
      }
      if (copyError) throw copyError;
      if (rows) await orCopyFailure(write(copy, rows));
    }
    const invalid = validator.result();
    if (invalid) {
      // After 100 errors the rest of the body is not read (the HTTP layer closes the connection).
      if (stoppedEarly) {
        throw new AppError(invalid.code, invalid.message.replace(/^(\d+)/, 'At least $1'), invalid.details);
      }
      throw invalid;
    }
    if (validator.count === 0) {
      throw new AppError('INVALID_REQUEST', 'The batch has no documents.', [
        { field: 'documents', message: 'must contain at least one document' },
      ]);
    }
    copy.end();
    await finished(copy);
    if (copyError) throw copyError;
    const c = client as PoolClient;
    const updated = await c.query<BatchRow>(
      `UPDATE batches SET total = $2, queued_count = $2 WHERE id = $1 RETURNING ${BATCH_COLUMNS}`,
      [batchId, validator.count],
    );
    if (input.idempotencyKey) {
      await c.query(`UPDATE idempotency_keys SET request_hash = $3 WHERE tenant_id = $1 AND key = $2`, [
        input.tenantId,
        input.idempotencyKey,
        input.documents.digest(),
      ]);
    }
    if (deps.limiter) {
      await c.query('SELECT pg_advisory_xact_lock(727001, hashtext($1))', [input.tenantId]);
      await deps.limiter.assertActiveBelowCap(c, input.tenantId, true);
    }
    await c.query('COMMIT');
    c.off('error', onClientError);
    c.release();
    client = undefined;
    return { kind: 'created', row: updated.rows[0] as BatchRow };
  } catch (err) {
    abandon();
    if ((err as { code?: string }).code === '23505') {
      // The validator finds duplicates first; this is the database's backstop.
      throw new AppError(
        'DUPLICATE_DOCUMENT_ID',
        'Two documents of the batch have the same id; nothing was stored.',
      );
    }
    throw err;
  }
}

/** Creates a batch from validated fields and streamed documents. See the module comment for the steps. */
export async function createBatch(deps: BatchDeps, input: CreateBatchInput): Promise<CreateBatchResult> {
  if (input.idempotencyKey !== undefined) {
    assertIdempotencyKey(input.idempotencyKey);
    const existing = await findKey(deps, input.tenantId, input.idempotencyKey);
    if (existing) return replay(deps, input, existing);
  }
  const params = await resolveBatchParams(input.fields, deps.models);
  if (params.webhookUrl) await assertWebhookUrlAllowed(params.webhookUrl, deps.settings.webhookAllowlist);
  if (deps.limiter) {
    await deps.limiter.take(input.tenantId);
    await deps.limiter.assertActiveBelowCap(deps.db.pool, input.tenantId);
  }
  const release = deps.uploadSlots ? await deps.uploadSlots.acquire() : () => undefined;
  let outcome: IngestOutcome;
  const endTimer = ingestSeconds.startTimer();
  try {
    outcome = await ingest(deps, input, params);
  } finally {
    release();
  }
  if (outcome.kind === 'created') {
    endTimer();
    batchesCreated.inc({ task: params.task, form: input.form ?? 'ndjson' });
    documentsIngested.inc({ task: params.task }, outcome.row.total);
  }
  if (outcome.kind === 'key-taken') {
    // A concurrent request with the same key committed first.
    const existing = input.idempotencyKey ? await findKey(deps, input.tenantId, input.idempotencyKey) : null;
    if (!existing) {
      throw new AppError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key is being used by another request; retry.',
      );
    }
    return replay(deps, input, existing);
  }
  const row = outcome.row;
  const log = deps.logger.child({ batchId: row.id });
  try {
    const chunks = await enqueueChunks(deps.queues, chunkRanges(row.total, deps.settings.chunkSize), {
      batchId: row.id,
      task: params.task,
      priority: params.priority,
      attempts: deps.settings.chunkAttempts,
    });
    await deps.db.pool.query('UPDATE batches SET chunk_count = $2 WHERE id = $1', [row.id, chunks]);
    row.chunk_count = chunks;
  } catch (err) {
    // Stored and queued in Postgres (the truth); the reconciler enqueues documents no job covers.
    log.warn(
      { err: { message: (err as Error).message } },
      'batch stored but its chunk jobs could not be enqueued',
    );
  }
  log.info({ documents: row.total, task: row.task, model: row.model }, 'batch created');
  return { batch: toBatchObject(row), replayed: false };
}
