import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DocumentSource } from '../batches/document-source';
import { MAX_ERROR_DETAILS } from '../batches/document-validator';
import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';
import { newId } from '../ids';
import { assertWebhookUrlAllowed } from '../webhooks/url-policy';
import { ExampleValidator } from './example-validator';
import { TRAINING_JOB_COLUMNS, toTrainingJobObject } from './training-job-object';
import type { TrainingJobObject, TrainingJobRow } from './training-job-object';
import { enqueueTrainingJob } from './enqueue-training-job';
import type { TrainingJobDeps } from './training-job-deps';
import { resolveTrainingParams } from './training-params';

/**
 * Creates a training job from its query fields and a streamed NDJSON upload of labelled examples.
 *
 * 1. The fields (model name, recipe, hyperparameters, webhook_url) are checked before any byte of the
 *    body is read (400 INVALID_REQUEST / UNKNOWN_RECIPE / INVALID_HYPERPARAMETERS / INVALID_WEBHOOK_URL),
 *    then the tenant's submission rate limit (`RATE_LIMIT_PER_MINUTE`, shared with batch submissions:
 *    429 RATE_LIMITED with Retry-After) and its cap on active training jobs
 *    (`MAX_ACTIVE_TRAINING_JOBS`: 429 TOO_MANY_ACTIVE_TRAINING_JOBS).
 * 2. Once the first lines have arrived, an upload slot and a pooled connection are taken; in one
 *    transaction the job row is inserted and the examples are COPYed into `training_examples` as they
 *    stream in (memory: one body chunk and the count per label, never the upload).
 * 3. Any bad line: the transaction is abandoned (nothing stored) and up to 100 line errors are
 *    reported (400 INVALID_DOCUMENT, like a batch upload). All lines valid but fewer than 2 labels or a
 *    label with too few examples: 400 INSUFFICIENT_TRAINING_DATA, nothing stored.
 * 4. The active-job cap is checked again under a per-tenant advisory lock just before COMMIT (the
 *    job's own row counts), so concurrent uploads cannot overshoot it; over it: rolled back, 429.
 * 5. COMMIT, then the BullMQ job is enqueued (if Redis fails here the worker's sweep enqueues it).
 */

/** Training job statuses that count against `MAX_ACTIVE_TRAINING_JOBS`, as an SQL list. */
const ACTIVE_TRAINING_STATUSES_SQL = `('queued', 'running')`;

/**
 * Advisory lock class of the per-tenant training cap: `pg_advisory_xact_lock(727002, hashtext(tenant id))`
 * (727001 is the batch cap's: batch and training commits do not wait for each other).
 */
export const TRAINING_CAP_LOCK_CLASS = 727002;

/** The tenant's queued or running training jobs, counted up to `maxActive + 1`. */
async function activeTrainingJobs(q: Queryable, tenantId: string, maxActive: number): Promise<number> {
  const res = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM training_jobs WHERE tenant_id = $1 AND status IN ${ACTIVE_TRAINING_STATUSES_SQL} LIMIT $2
     ) s`,
    [tenantId, maxActive + 1],
  );
  return res.rows[0]?.n ?? 0;
}

function tooManyActive(maxActive: number): AppError {
  return new AppError(
    'TOO_MANY_ACTIVE_TRAINING_JOBS',
    `Too many active training jobs: at most ${maxActive} may be queued or running at once ` +
      '(MAX_ACTIVE_TRAINING_JOBS). Wait for one to finish or cancel one.',
    undefined,
    { 'Retry-After': '30' },
  );
}

export interface CreateTrainingJobInput {
  tenantId: string;
  /** Query fields as sent (name -> string, or string[] when repeated). */
  fields: Record<string, unknown>;
  examples: DocumentSource;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function write(copy: NodeJS.WritableStream, data: string): Promise<void> {
  if (!copy.write(data)) await once(copy as unknown as NodeJS.EventEmitter, 'drain');
}

export async function createTrainingJob(
  deps: TrainingJobDeps,
  input: CreateTrainingJobInput,
): Promise<TrainingJobObject> {
  const params = resolveTrainingParams(input.fields);
  if (params.webhookUrl) await assertWebhookUrlAllowed(params.webhookUrl, deps.settings.webhookAllowlist);
  // Both limits before any byte of the body is read (and so before anything is stored).
  if (deps.limiter) await deps.limiter.take(input.tenantId);
  const maxActive = deps.settings.maxActive;
  if ((await activeTrainingJobs(deps.db.pool, input.tenantId, maxActive)) >= maxActive) {
    throw tooManyActive(maxActive);
  }
  const it = input.examples[Symbol.asyncIterator]();
  // The slot and the connection are taken once the body has started to arrive (a client that sends
  // headers and then nothing holds neither; the body limits cut it off).
  let pending = await it.next();
  if (pending.done) {
    throw new AppError('INSUFFICIENT_TRAINING_DATA', 'The upload has no examples.');
  }
  const release = deps.uploadSlots ? await deps.uploadSlots.acquire(input.tenantId) : () => undefined;
  const id = newId('tj');
  const validator = new ExampleValidator({
    jobId: id,
    maxTextChars: deps.settings.maxTextChars,
    maxExamples: deps.settings.maxExamples,
  });
  let client: PoolClient | undefined;
  const onClientError = (): void => undefined;
  const abandon = (): void => {
    if (!client) return;
    const c = client;
    client = undefined;
    c.release(new Error('training upload rejected: transaction abandoned'));
  };
  let row: TrainingJobRow;
  try {
    client = await deps.db.pool.connect();
    client.on('error', onClientError);
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO training_jobs (id, tenant_id, status, recipe, hyperparameters, model_name, webhook_url)
       VALUES ($1, $2, 'queued', $3, $4::jsonb, $5, $6)`,
      [
        id,
        input.tenantId,
        params.recipe,
        JSON.stringify(params.hyperparameters),
        params.modelName,
        params.webhookUrl,
      ],
    );
    const copy = client.query(copyFrom('COPY training_examples (job_id, seq, text, label) FROM STDIN'));
    let copyError: unknown;
    copy.on('error', (err: unknown) => {
      copyError ??= err;
    });
    let stoppedEarly = false;
    while (!pending.done && !stoppedEarly) {
      const items = pending.value;
      for (let at = 0; at < items.length; at += 64) {
        const rows = validator.accept(items.length <= 64 ? items : items.slice(at, at + 64));
        if (!validator.ok) {
          abandon();
          if (validator.errors.length >= MAX_ERROR_DETAILS) stoppedEarly = true;
          if (stoppedEarly) break;
          continue;
        }
        if (copyError) throw copyError;
        if (rows) await write(copy, rows);
        await yieldToEventLoop();
      }
      if (!stoppedEarly) pending = await it.next();
    }
    const invalid = validator.result();
    if (invalid) {
      if (stoppedEarly) {
        throw new AppError(invalid.code, invalid.message.replace(/^(\d+)/, 'At least $1'), invalid.details);
      }
      throw invalid;
    }
    const problem = validator.dataProblem(deps.settings.minExamplesPerLabel);
    if (problem) throw problem;
    copy.end();
    await finished(copy);
    if (copyError) throw copyError;
    const c = client as PoolClient;
    const res = await c.query<TrainingJobRow>(
      `UPDATE training_jobs SET example_count = $2, label_counts = $3::jsonb WHERE id = $1
       RETURNING ${TRAINING_JOB_COLUMNS}`,
      [id, validator.count, JSON.stringify(Object.fromEntries(validator.labelCounts))],
    );
    // The cap again, race-free: commits of one tenant's training uploads take turns on this lock (held
    // from here to COMMIT), and the count (a statement after the lock is granted, so its snapshot sees
    // every job the previous holder committed) includes this job's own row.
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      TRAINING_CAP_LOCK_CLASS,
      input.tenantId,
    ]);
    if ((await activeTrainingJobs(c, input.tenantId, maxActive)) > maxActive) throw tooManyActive(maxActive);
    await c.query('COMMIT');
    c.off('error', onClientError);
    c.release();
    client = undefined;
    row = res.rows[0] as TrainingJobRow;
  } catch (err) {
    abandon();
    throw err;
  } finally {
    release();
  }
  const log = deps.logger.child({ trainingJobId: id });
  try {
    await enqueueTrainingJob(deps.queues, id);
  } catch (err) {
    log.warn(
      { err: { message: (err as Error).message } },
      'training job stored but not enqueued; the workers enqueue it',
    );
  }
  log.info(
    { examples: row.example_count, labels: Object.keys(row.label_counts).length, recipe: row.recipe },
    'training job created',
  );
  return toTrainingJobObject(row);
}
