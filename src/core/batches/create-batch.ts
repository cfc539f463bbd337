import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient, QueryResultRow } from 'pg';
import type { SqlClient } from '../db/queryable';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError, clearStorageFull } from '../errors';
import { newId } from '../ids';
import { chunkRanges, enqueueChunks } from '../queue/enqueue-chunks';
import { ACTIVE_STATUSES_SQL } from '../tenants/submission-limits';
import { assertWebhookUrlAllowed } from '../webhooks/url-policy';
import type { BatchDeps } from './batch-deps';
import { submissionUsageSql } from '../usage/usage-record';
import { batchInsertStatement, duplicateIdBackstop, noDocumentsError } from './batch-insert';
import type { IngestOutcome } from './batch-insert';
import { toBatchObject } from './batch-object';
import type { BatchObject, BatchRow } from './batch-object';
import { BATCH_COLUMNS } from './batch-object';
import { resolveBatchParams } from './batch-params';
import { tenantCatalog } from './tenant-catalog';
import type { ResolvedBatchParams } from './batch-params';
import type { DocumentItem, DocumentSource } from './document-source';
import { DocumentValidator, MAX_ERROR_DETAILS } from './document-validator';
import type { ValidationTally } from './document-validator';
import type { ThreadedValidator } from './ingest-threads';
import { batchesCreated, documentsIngested, ingestSeconds } from './ingest-metrics';
import { ingestSmall, isSmallBatch } from './ingest-small';

/**
 * Batch creation: the one write path of both body forms.
 *
 * 1. One query reads the `Idempotency-Key` row and the tenant's active-batch count. Key already
 *    used (committed, within the TTL): the body is read and hashed, then the original batch is
 *    returned (same request) or 409 IDEMPOTENCY_KEY_REUSED (different one).
 * 2. Batch fields are validated and the model resolved (400/422), the webhook URL checked against
 *    the SSRF policy, then the rate limit (Redis) and the active-batch cap (on that count): all
 *    before any byte of the body is read.
 * 3. A small in-memory batch (JSON form, at most 1,000 documents and 1 MiB) is validated whole,
 *    then written in one statement (`ingest-small.ts`). Any other upload takes an upload slot and
 *    goes through COPY as it streams in, in one transaction: one statement claims the idempotency
 *    row and inserts the batch row (`batch-insert.ts`; the key's primary key makes a concurrent
 *    identical request wait there, then replay), then the documents are copied. Any invalid
 *    document: the transaction is abandoned (connection discarded, so the server rolls back at
 *    once), the rest of the body is only validated to report up to 100 line-numbered errors, and
 *    nothing is stored. At the end one statement sets total/queued_count/chunk_count and the
 *    request hash.
 * 4. Both paths end with the active cap re-checked under a per-tenant advisory lock and COMMIT, in
 *    one round trip (`SubmissionLimiter.commitBelowCap`).
 * 5. Only then the chunk jobs are enqueued. If Redis fails at this point the batch is stored and
 *    its documents are queued; the pipeline's reconciler enqueues documents no job covers.
 *
 * Round trips matter more than work for small batches: one is a few milliseconds of Postgres time,
 * but each round trip waits for this process's event loop and a free core while holding a pooled
 * connection (and an upload slot), and each of one tenant's commits waited for the previous one.
 * See docs/reliability.md (submission latency under 50 clients).
 */

export interface CreateBatchInput {
  tenantId: string;
  /** Batch fields as the client sent them (unvalidated). */
  fields: unknown;
  documents: DocumentSource;
  idempotencyKey?: string;
  /** Body form, for metrics (`json`, `ndjson`, or `openai`: an OpenAI-compatible input file). */
  form?: 'json' | 'ndjson' | 'openai';
  /**
   * Runs inside the creating transaction, after the batch row and its documents are written and
   * before COMMIT: a write that must exist exactly when the batch does (the OpenAI view of a batch).
   */
  beforeCommit?: (client: SqlClient, batch: BatchRow) => Promise<void>;
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

/** What a submission reads before it reads the body. */
interface Preflight {
  /** The live row of the request's Idempotency-Key, if any. */
  key: KeyRow | null;
  /** The tenant's active batches, counted up to `limiter.countLimit` (0 without a limiter). */
  active: number;
}

/** The Idempotency-Key row and the active-batch count in one query. */
async function preflight(deps: BatchDeps, tenantId: string, key: string | undefined): Promise<Preflight> {
  const res = await deps.db.pool.query<{
    request_hash: string | null;
    batch_id: string | null;
    active: number;
  }>(
    `SELECT k.request_hash, k.batch_id,
            (SELECT count(*)::int FROM (
               SELECT 1 FROM batches WHERE tenant_id = $1 AND status IN ${ACTIVE_STATUSES_SQL} LIMIT $4
             ) s) AS active
       FROM (VALUES (1)) AS one (x)
       LEFT JOIN idempotency_keys k
         ON k.tenant_id = $1 AND k.key = $2 AND k.created_at > now() - make_interval(hours => $3)`,
    [tenantId, key ?? null, deps.settings.idempotencyTtlHours, deps.limiter?.countLimit ?? 0],
  );
  const row = res.rows[0];
  return {
    key: row?.batch_id ? { request_hash: row.request_hash ?? '', batch_id: row.batch_id } : null,
    active: row?.active ?? 0,
  };
}

/** The live row of an Idempotency-Key (after a concurrent request with the same key committed). */
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
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`,
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

const COPY_SQL = 'COPY documents (batch_id, seq, client_id, text, metadata) FROM STDIN';

/**
 * The connection an upload's transaction runs on: a pooled client of this thread (`LocalUploadTx`), or
 * the upload's connection in its ingest thread (`ThreadedValidator`), which writes the COPY rows itself.
 */
interface UploadTx extends SqlClient {
  startCopy(sql: string): Promise<void>;
  endCopy(): Promise<void>;
  /** Calls `listener` with the first failure of the connection or COPY; returns a remover. */
  onFailure(listener: (err: Error) => void): () => void;
  readonly failure?: Error;
  /** Ends the transaction by closing the connection: the server rolls back, locks are released at once. */
  abandon(): void;
  /** Returns the connection after COMMIT or ROLLBACK. */
  release(): void;
}

/** An upload's transaction on a pooled client of this thread (no ingest threads). */
class LocalUploadTx implements UploadTx {
  failure?: Error;
  private copy?: NodeJS.WritableStream & NodeJS.EventEmitter;
  private client?: PoolClient;
  private readonly listeners = new Set<(err: Error) => void>();
  // COPY rows are written in pieces of about COPY_WRITE_CHARS, not per slice: each write to the
  // connection is a socket write, and on a loopback connection the sender's thread also runs the
  // receiver's TCP path.
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly onClientError = (err: Error): void => this.fail(err);

  constructor(client: PoolClient) {
    // A checked-out pg client has no 'error' listener of the pool: without this one, a connection
    // dropped mid-COPY would be an uncaught exception. The failure reaches us through `fail`.
    client.on('error', this.onClientError);
    this.client = client;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const l of [...this.listeners]) l(err);
    this.listeners.clear();
  }

  onFailure(listener: (err: Error) => void): () => void {
    if (this.failure) {
      listener(this.failure);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private live(): PoolClient {
    if (this.failure) throw this.failure;
    if (!this.client) throw new Error('batch upload: the transaction has ended');
    return this.client;
  }

  query<R extends QueryResultRow>(
    text: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }> {
    return typeof text === 'string' ? this.live().query<R>(text, values) : this.live().query<R>(text);
  }

  async startCopy(sql: string): Promise<void> {
    const copy = this.live().query(copyFrom(sql)) as unknown as NodeJS.WritableStream & NodeJS.EventEmitter;
    copy.on('error', (err: Error) => this.fail(err));
    this.copy = copy;
  }

  /** Gathers `rows` and writes them once there are COPY_WRITE_CHARS, waiting for drain. */
  async write(rows: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (rows.length === 0) return;
    this.pending.push(rows);
    this.pendingChars += rows.length;
    if (this.pendingChars >= COPY_WRITE_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    const copy = this.copy;
    if (!copy || this.pendingChars === 0) return;
    const data = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    if (this.failure) throw this.failure;
    if (!copy.write(data)) await orFailure(this, once(copy, 'drain'));
  }

  async endCopy(): Promise<void> {
    await this.flush();
    const copy = this.copy;
    if (!copy) throw new Error('batch upload: no COPY open');
    // pg-copy-streams drops its connection when the server fails the COPY: end() would throw.
    if (this.failure) throw this.failure;
    copy.end();
    await orFailure(this, finished(copy));
    if (this.failure) throw this.failure;
    this.copy = undefined;
  }

  abandon(): void {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    // The listener stays: the discarded connection may still report the cut.
    c.release(new Error('batch upload rejected: transaction abandoned'));
  }

  release(): void {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    c.off('error', this.onClientError);
    c.release();
  }
}

/**
 * `p`, or the upload connection's failure if that comes first: a COPY failure (Postgres gone, a
 * constraint) must end the upload even while the body is idle. (Not Promise.race against one
 * long-lived promise: every race would stay attached to it and keep its chunk alive until the end.)
 */
function orFailure<T>(tx: UploadTx, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const off = tx.onFailure(reject);
    p.then(
      (v) => {
        off();
        resolve(v);
      },
      (err: unknown) => {
        off();
        reject(err);
      },
    );
  });
}

/** The COPY path: documents validated and copied as the body streams in. See the module comment. */
async function ingest(
  deps: BatchDeps,
  input: CreateBatchInput,
  params: ResolvedBatchParams,
): Promise<IngestOutcome> {
  const { db, settings } = deps;
  const batchId = newId('bat');
  const validatorOptions = {
    batchId,
    maxDocChars: settings.maxDocChars,
    maxDocs: settings.maxDocsPerBatch,
  };
  // With ingest threads (the API), the documents are checked and copied in the upload's thread, and
  // the whole transaction runs on that thread's connection; a streamed NDJSON body goes there as raw
  // bytes, split into lines in the thread (`raw`). Else all of it runs here.
  const raw = input.documents.raw;
  const pool = deps.ingestThreads?.hasDatabase ? deps.ingestThreads : undefined;
  const threaded = pool?.open(validatorOptions, raw?.maxLineBytes);
  const local = threaded ? undefined : new DocumentValidator(validatorOptions);
  const validator: ValidationTally & { ok: boolean; count: number; result(): AppError | null } = (threaded ??
    local) as ThreadedValidator | DocumentValidator;
  let localTx: LocalUploadTx | undefined;
  let tx: UploadTx;
  if (threaded) tx = threaded;
  else tx = localTx = new LocalUploadTx(await db.pool.connect());
  let open = true;
  const abandon = (): void => {
    if (!open) return;
    open = false;
    tx.abandon();
  };
  try {
    await tx.query('BEGIN');
    const ins = await tx.query(
      batchInsertStatement({
        batchId,
        tenantId: input.tenantId,
        params,
        idempotencyKey: input.idempotencyKey,
        idempotencyTtlHours: settings.idempotencyTtlHours,
      }),
    );
    if (ins.rowCount === 0) {
      await tx.query('ROLLBACK');
      open = false;
      tx.release();
      return { kind: 'key-taken' };
    }
    await tx.startCopy(COPY_SQL);
    // Threaded with a raw body: the body's chunks; else the source's line items.
    const rawChunks = threaded && raw ? raw.chunks() : undefined;
    const items = rawChunks ? undefined : input.documents[Symbol.asyncIterator]();
    let stoppedEarly = false;
    /** After the validator's tally was updated: abandons the transaction at the first invalid document. */
    const check = (): void => {
      if (!validator.ok) {
        abandon();
        if (validator.errors.length >= MAX_ERROR_DETAILS) stoppedEarly = true;
        return;
      }
      if (tx.failure) throw tx.failure;
    };
    // Threaded: up to THREAD_PIPELINE_DEPTH socket chunks in the thread while this one reads the next.
    const inflight: Promise<unknown>[] = [];
    for (;;) {
      const source = (rawChunks ?? items) as AsyncIterator<Buffer | DocumentItem[]>;
      const next = open ? await orFailure(tx, source.next()) : await source.next();
      if (next.done) {
        if (rawChunks && threaded) {
          // The last line of a body without a final newline; taken after those in flight, below.
          const last = threaded.acceptEnd();
          last.catch(() => undefined);
          inflight.push(last);
        }
        break;
      }
      const value = next.value;
      if (threaded) {
        const validated = Buffer.isBuffer(value) ? threaded.acceptBytes(value) : threaded.accept(value);
        // Taken in order below; if an earlier one fails first, this one's failure is not unhandled.
        validated.catch(() => undefined);
        inflight.push(validated);
        if (inflight.length >= THREAD_PIPELINE_DEPTH) {
          await inflight.shift();
          check();
        }
      } else {
        // A body already buffered in the socket is parsed without ever returning to the event loop (each
        // chunk resolves as a microtask), and one socket chunk holds up to a few hundred documents: parse,
        // check and copy them in slices of INGEST_SLICE_DOCS with a turn of the event loop after each, so
        // one turn of a burst of uploads stays short and reads and other requests are served in between
        // (issue 16: GET p95 was 55x its rest figure with no yield, ~10x with one yield per socket chunk).
        const docs = value as DocumentItem[];
        for (let at = 0; at < docs.length && !stoppedEarly; at += INGEST_SLICE_DOCS) {
          const slice = docs.length <= INGEST_SLICE_DOCS ? docs : docs.slice(at, at + INGEST_SLICE_DOCS);
          const rows = (local as DocumentValidator).accept(slice);
          check();
          if (open) await (localTx as LocalUploadTx).write(rows);
          await yieldToEventLoop();
        }
      }
      if (stoppedEarly) break;
    }
    while (inflight.length > 0 && !stoppedEarly) {
      await inflight.shift();
      check();
    }
    const invalid = validator.result();
    if (invalid) {
      // After 100 errors the rest of the body is not read (the HTTP layer closes the connection).
      if (stoppedEarly) {
        throw new AppError(invalid.code, invalid.message.replace(/^(\d+)/, 'At least $1'), invalid.details);
      }
      throw invalid;
    }
    if (validator.count === 0) throw noDocumentsError();
    await tx.endCopy();
    // chunk_count is the number of chunk jobs enqueued after the commit (cancel removes those ids;
    // if the enqueue fails there are none to remove and the reconciler covers the documents).
    const updated = await tx.query<BatchRow>(
      `WITH hashed AS (
         UPDATE idempotency_keys SET request_hash = $4 WHERE tenant_id = $5 AND key = $6
       )
       UPDATE batches SET total = $2, queued_count = $2, chunk_count = $3 WHERE id = $1 RETURNING ${BATCH_COLUMNS}`,
      [
        batchId,
        validator.count,
        Math.ceil(validator.count / settings.chunkSize),
        input.documents.digest(),
        input.tenantId,
        input.idempotencyKey ?? null,
      ],
    );
    if (input.beforeCommit) await input.beforeCommit(tx, updated.rows[0] as BatchRow);
    if (deps.limiter) await deps.limiter.commitBelowCap(tx, input.tenantId, submissionUsageSql(batchId));
    else await tx.query(`${submissionUsageSql(batchId)};\nCOMMIT`);
    open = false;
    tx.release();
    return { kind: 'created', row: updated.rows[0] as BatchRow };
  } catch (err) {
    abandon();
    // The connection's own failure (its SQLSTATE decides the answer: 53100 disk full -> 503) over a
    // stream error it caused on the way (a write to a COPY the server had just failed).
    const cause = !(err instanceof AppError) && tx.failure ? tx.failure : err;
    throw duplicateIdBackstop(cause);
  } finally {
    threaded?.close();
  }
}

/** Documents parsed, checked and copied per turn of the event loop during an upload (see `ingest`). */
const INGEST_SLICE_DOCS = 32;

/** Socket chunks of one upload in its ingest thread at once (see `ingest`). */
const THREAD_PIPELINE_DEPTH = 2;

/** Characters of COPY rows gathered before one write to the connection (see `LocalUploadTx`). */
const COPY_WRITE_CHARS = 64 * 1024;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Waits for the first items of `src` (for a raw NDJSON source that goes to an ingest thread, its first
 * body chunk) and returns a source that yields them, then the rest.
 */
async function afterFirstItems(src: DocumentSource, rawToThread: boolean): Promise<DocumentSource> {
  const raw = src.raw;
  if (raw && rawToThread) {
    const chunks = raw.chunks();
    const firstChunk = await chunks.next();
    return {
      [Symbol.asyncIterator]: () => {
        throw new Error('a raw NDJSON source is read through raw.chunks()');
      },
      raw: {
        maxLineBytes: raw.maxLineBytes,
        async *chunks() {
          if (firstChunk.done) return;
          yield firstChunk.value;
          yield* chunks;
        },
      },
      drain: () => src.drain(),
      digest: () => src.digest(),
    };
  }
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield n.value;
      }
    },
    drain: () => src.drain(),
    digest: () => src.digest(),
  };
}

/** Creates a batch from validated fields and streamed documents. See the module comment for the steps. */
export async function createBatch(deps: BatchDeps, input: CreateBatchInput): Promise<CreateBatchResult> {
  if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
  const pre = await preflight(deps, input.tenantId, input.idempotencyKey);
  if (pre.key) return replay(deps, input, pre.key);
  const params = await resolveBatchParams(
    input.fields,
    tenantCatalog(deps.models, deps.db.pool, input.tenantId),
  );
  if (params.webhookUrl) await assertWebhookUrlAllowed(params.webhookUrl, deps.settings.webhookAllowlist);
  if (deps.limiter) {
    await deps.limiter.take(input.tenantId);
    deps.limiter.assertBelowCap(pre.active);
  }
  let outcome: IngestOutcome;
  const endTimer = ingestSeconds.startTimer();
  if (isSmallBatch(input.documents)) {
    outcome = await ingestSmall(deps, input, params);
  } else {
    // The slot and the pooled connection are taken once the first lines of the body have arrived: a
    // client that sends headers and then nothing (or 1 byte/s) holds neither (the body limits cut it off).
    const documents = await afterFirstItems(input.documents, deps.ingestThreads !== undefined);
    const release = deps.uploadSlots ? await deps.uploadSlots.acquire(input.tenantId) : () => undefined;
    try {
      outcome = await ingest(deps, { ...input, documents }, params);
    } finally {
      release();
    }
  }
  if (outcome.kind === 'created') {
    clearStorageFull(); // a write succeeded: readiness stops reporting a full disk
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
    await enqueueChunks(deps.queues, chunkRanges(row.total, deps.settings.chunkSize), {
      batchId: row.id,
      task: params.task,
      priority: params.priority,
      attempts: deps.settings.chunkAttempts,
    });
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
