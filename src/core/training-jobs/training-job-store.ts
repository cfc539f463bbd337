import type { Pool } from 'pg';
import { inTransaction } from '../db/queryable';
import type { Queryable } from '../db/queryable';
import { newId } from '../ids';
import { TRAINING_JOB_COLUMNS } from './training-job-object';
import type { TrainingJobRow, TrainingProgress } from './training-job-object';

/**
 * The worker's side of a training job's row: start (attempt counted), progress each epoch, and the
 * end state with its webhook outbox row in the same transaction (like a batch's end).
 */

/** Webhook event per end state. */
export const TRAINING_END_EVENTS = {
  succeeded: 'training_job.succeeded',
  failed: 'training_job.failed',
  cancelled: 'training_job.cancelled',
} as const;
export type TrainingEndStatus = keyof typeof TRAINING_END_EVENTS;

/** The job was started by workers this many times without ending (each died): it fails. */
export const MAX_TRAINING_STARTS = 3;

export const TRAINING_INTERRUPTED = {
  code: 'TRAINING_INTERRUPTED',
  message: `training was interrupted ${MAX_TRAINING_STARTS} times (the worker stopped); it was given up`,
};

export interface TrainingEnd {
  status: TrainingEndStatus;
  /** `name@version` of the created model (succeeded). */
  resultModel?: string;
  metrics?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/**
 * Moves a queued or running job to its end state, deletes its uploaded examples and records the
 * webhook delivery (when the job has a webhook_url) in the same transaction (`q` must be a
 * transaction's client). Returns the row, or null when the job had ended already (safe to call twice).
 */
export async function finishTrainingJob(
  q: Queryable,
  id: string,
  end: TrainingEnd,
): Promise<TrainingJobRow | null> {
  const res = await q.query<TrainingJobRow>(
    `UPDATE training_jobs SET status = $2::"TrainingJobStatus", result_model = $3, metrics = coalesce($4::jsonb, metrics),
       error = $5::jsonb, finished_at = now(), updated_at = now(), checkpoint = NULL, checkpoint_epoch = NULL
     WHERE id = $1 AND status IN ('queued', 'running')
     RETURNING ${TRAINING_JOB_COLUMNS}`,
    [
      id,
      end.status,
      end.resultModel ?? null,
      end.metrics ? JSON.stringify(end.metrics) : null,
      end.error ? JSON.stringify(end.error) : null,
    ],
  );
  const row = res.rows[0];
  if (!row) return null;
  // The end is final (no state leaves succeeded, failed or cancelled): the uploaded examples are no
  // longer needed and go in the same transaction, so training_examples holds only those of queued
  // and running jobs. A job retried after a worker died is still `running` and keeps them.
  await q.query('DELETE FROM training_examples WHERE job_id = $1', [id]);
  if (row.webhook_url) {
    const type = TRAINING_END_EVENTS[end.status];
    const payload = JSON.stringify({
      type,
      timestamp: (row.finished_at as Date).toISOString(),
      data: {
        id: row.id,
        status: row.status,
        model_name: row.model_name,
        model: row.result_model,
        metrics: row.metrics,
        error: row.error,
      },
    });
    await q.query(
      `INSERT INTO webhook_deliveries (id, training_job_id, tenant_id, event_type, url, payload, status, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending', now())`,
      [newId('whd'), row.id, row.tenant_id, type, row.webhook_url, payload],
    );
  }
  return row;
}

/** Ends a job in its own transaction (with its webhook row). */
export function finishTrainingJobNow(
  pool: Pool,
  id: string,
  end: TrainingEnd,
): Promise<TrainingJobRow | null> {
  return inTransaction(pool, (c) => finishTrainingJob(c, id, end));
}

/** What a worker may do with a job it took from the queue. */
export type StartOutcome =
  | { kind: 'start'; row: TrainingJobRow }
  /** Ended already (cancelled while queued, or a duplicate job): nothing to do. */
  | { kind: 'ended' }
  /** Ended now: a cancel was pending, or the job was interrupted too often. */
  | { kind: 'finished'; row: TrainingJobRow };

/**
 * Starts (or restarts, after a worker died) a job: counts the attempt, sets `running`, `started_at`
 * (first start), clears the progress of an earlier attempt.
 */
export async function startTrainingJob(pool: Pool, id: string, worker: string): Promise<StartOutcome> {
  return inTransaction(pool, async (c) => {
    const res = await c.query<TrainingJobRow>(
      `SELECT ${TRAINING_JOB_COLUMNS} FROM training_jobs WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = res.rows[0];
    if (!row || (row.status !== 'queued' && row.status !== 'running')) return { kind: 'ended' };
    if (row.cancel_requested_at) {
      return { kind: 'finished', row: (await finishTrainingJob(c, id, { status: 'cancelled' }))! };
    }
    if (row.attempts >= MAX_TRAINING_STARTS) {
      return {
        kind: 'finished',
        row: (await finishTrainingJob(c, id, { status: 'failed', error: TRAINING_INTERRUPTED }))!,
      };
    }
    const upd = await c.query<TrainingJobRow>(
      `UPDATE training_jobs SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()),
         progress = NULL, worker = $2, updated_at = now()
       WHERE id = $1 RETURNING ${TRAINING_JOB_COLUMNS}`,
      [id, worker],
    );
    return { kind: 'start', row: upd.rows[0] as TrainingJobRow };
  });
}

/** The examples of a job in upload order, as column arrays. */
export async function loadTrainingExamples(
  q: Queryable,
  id: string,
): Promise<{ texts: string[]; labels: string[] }> {
  const res = await q.query<{ text: string; label: string }>(
    'SELECT text, label FROM training_examples WHERE job_id = $1 ORDER BY seq',
    [id],
  );
  return { texts: res.rows.map((r) => r.text), labels: res.rows.map((r) => r.label) };
}

/** The latest checkpoint of a job (written by an earlier attempt), or null. */
export async function loadTrainingCheckpoint(
  q: Queryable,
  id: string,
): Promise<{ epoch: number; data: Buffer } | null> {
  const res = await q.query<{ checkpoint: Buffer | null; checkpoint_epoch: number | null }>(
    'SELECT checkpoint, checkpoint_epoch FROM training_jobs WHERE id = $1',
    [id],
  );
  const row = res.rows[0];
  return row?.checkpoint && row.checkpoint_epoch !== null
    ? { epoch: row.checkpoint_epoch, data: row.checkpoint }
    : null;
}

/** Writes the progress of a running job; returns true when a cancel was asked for meanwhile. */
export async function recordTrainingProgress(
  q: Queryable,
  id: string,
  progress: TrainingProgress,
): Promise<boolean> {
  const res = await q.query<{ cancel: boolean }>(
    `UPDATE training_jobs SET progress = $2::jsonb, updated_at = now() WHERE id = $1 AND status = 'running'
     RETURNING cancel_requested_at IS NOT NULL AS cancel`,
    [id, JSON.stringify(progress)],
  );
  return res.rows[0]?.cancel ?? true;
}

/** True when the job was asked to stop (cancel requested, or it is no longer running). */
export async function trainingCancelRequested(q: Queryable, id: string): Promise<boolean> {
  const res = await q.query<{ stop: boolean }>(
    `SELECT (status <> 'running' OR cancel_requested_at IS NOT NULL) AS stop FROM training_jobs WHERE id = $1`,
    [id],
  );
  return res.rows[0]?.stop ?? true;
}

/** Ids of jobs that should have a BullMQ job (queued or running), oldest first (the enqueue sweep). */
export async function unfinishedTrainingJobIds(q: Queryable, limit = 100): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM training_jobs WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => r.id);
}
