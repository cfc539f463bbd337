import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DocumentSource } from '../batches/document-source';
import { MAX_ERROR_DETAILS } from '../batches/document-validator';
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
 *    body is read (400 INVALID_REQUEST / UNKNOWN_RECIPE / INVALID_HYPERPARAMETERS / INVALID_WEBHOOK_URL).
 * 2. Once the first lines have arrived, an upload slot and a pooled connection are taken; in one
 *    transaction the job row is inserted and the examples are COPYed into `training_examples` as they
 *    stream in (memory: one body chunk and the count per label, never the upload).
 * 3. Any bad line: the transaction is abandoned (nothing stored) and up to 100 line errors are
 *    reported (400 INVALID_DOCUMENT, like a batch upload). All lines valid but fewer than 2 labels or a
 *    label with too few examples: 400 INSUFFICIENT_TRAINING_DATA, nothing stored.
 * 4. COMMIT, then the BullMQ job is enqueued (if Redis fails here the worker's sweep enqueues it).
 */

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
