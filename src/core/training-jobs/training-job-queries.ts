import type { ListPage } from '../batches/batch-queries';
import { inTransaction } from '../db/queryable';
import type { Queryable } from '../db/queryable';
import type { Database } from '../db/database';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { TRAINING_QUEUE } from '../queue/catalog';
import type { QueueSet } from '../queue/queues';
import { decodeTrainingJobCursor, encodeTrainingJobCursor } from './training-job-cursor';
import { TRAINING_JOB_COLUMNS, TRAINING_JOB_STATUSES, toTrainingJobObject } from './training-job-object';
import type { TrainingJobObject, TrainingJobRow, TrainingJobStatus } from './training-job-object';
import { finishTrainingJob } from './training-job-store';

/** Reads and cancels training jobs, always scoped to a tenant (another tenant's job is "not found"). */

export function trainingJobNotFound(id: string): AppError {
  return new AppError('NOT_FOUND', `No training job ${JSON.stringify(id)}.`);
}

export async function findTrainingJobRow(
  q: Queryable,
  tenantId: string,
  id: string,
  forUpdate = false,
): Promise<TrainingJobRow | null> {
  const res = await q.query<TrainingJobRow>(
    `SELECT ${TRAINING_JOB_COLUMNS} FROM training_jobs WHERE id = $1 AND tenant_id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [id, tenantId],
  );
  return res.rows[0] ?? null;
}

export async function getTrainingJob(q: Queryable, tenantId: string, id: string): Promise<TrainingJobObject> {
  const row = await findTrainingJobRow(q, tenantId, id);
  if (!row) throw trainingJobNotFound(id);
  return toTrainingJobObject(row);
}

export interface ListTrainingJobsOptions {
  /** 1..100, default 20. */
  limit?: number;
  after?: string;
  status?: TrainingJobStatus;
}

/** A tenant's training jobs, newest first, keyset-paginated on (created_at, id). */
export async function listTrainingJobs(
  q: Queryable,
  tenantId: string,
  opts: ListTrainingJobsOptions = {},
): Promise<ListPage<TrainingJobObject>> {
  const limit = opts.limit ?? 20;
  if (opts.status !== undefined && !TRAINING_JOB_STATUSES.includes(opts.status)) {
    throw new AppError('INVALID_REQUEST', `status must be one of ${TRAINING_JOB_STATUSES.join(', ')}.`, [
      { field: 'status', message: `must be one of ${TRAINING_JOB_STATUSES.join(', ')}` },
    ]);
  }
  const params: unknown[] = [tenantId];
  let where = 'tenant_id = $1';
  if (opts.status) {
    params.push(opts.status);
    where += ` AND status = $${params.length}::"TrainingJobStatus"`;
  }
  if (opts.after) {
    const c = decodeTrainingJobCursor(opts.after);
    params.push(c.c, c.i);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  params.push(limit + 1);
  const res = await q.query<TrainingJobRow>(
    `SELECT ${TRAINING_JOB_COLUMNS} FROM training_jobs WHERE ${where}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const rows = res.rows.slice(0, limit);
  const hasMore = res.rows.length > limit;
  const last = rows[rows.length - 1];
  return {
    object: 'list',
    data: rows.map(toTrainingJobObject),
    has_more: hasMore,
    next_cursor: hasMore && last ? encodeTrainingJobCursor(last.created_at, last.id) : null,
  };
}

/**
 * Cancels a training job. Queued: it becomes `cancelled` at once (with its webhook outbox row) and its
 * BullMQ job is removed. Running: `cancel_requested_at` is set; the worker sees it within a second
 * (between training batches), aborts training and records `cancelled`. Idempotent for a job already
 * cancelled or being cancelled; a job that succeeded or failed is 409 TRAINING_JOB_FINISHED.
 */
export async function cancelTrainingJob(
  deps: { db: Database; queues: QueueSet; logger: Logger },
  tenantId: string,
  id: string,
): Promise<TrainingJobObject> {
  const { row, removeJob } = await inTransaction(deps.db.pool, async (c) => {
    const before = await findTrainingJobRow(c, tenantId, id, true);
    if (!before) throw trainingJobNotFound(id);
    if (before.status === 'cancelled') return { row: before, removeJob: false };
    if (before.status === 'succeeded' || before.status === 'failed') {
      throw new AppError(
        'TRAINING_JOB_FINISHED',
        `Training job ${id} already ${before.status}; it cannot be cancelled.`,
      );
    }
    if (before.status === 'queued') {
      await finishTrainingJob(c, id, { status: 'cancelled' });
      return { row: (await findTrainingJobRow(c, tenantId, id)) as TrainingJobRow, removeJob: true };
    }
    const res = await c.query<TrainingJobRow>(
      `UPDATE training_jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
       WHERE id = $1 RETURNING ${TRAINING_JOB_COLUMNS}`,
      [id],
    );
    return { row: res.rows[0] as TrainingJobRow, removeJob: false };
  });
  deps.logger.info({ trainingJobId: id, status: row.status }, 'training job cancel requested');
  if (removeJob) {
    // Best effort: a job that runs anyway finds its row cancelled and does nothing.
    await deps.queues
      .get(TRAINING_QUEUE)
      .remove(id)
      .catch(() => 0);
  }
  return toTrainingJobObject(row);
}

/** A training job with its tenant, for the ops dashboard. */
export type OpsTrainingJob = TrainingJobObject & {
  tenant: { id: string; name: string };
  /** The worker process that runs (ran) the latest attempt. */
  worker: string | null;
};

/** Training jobs across tenants, newest first (the ops dashboard); `status` narrows. */
export async function listTrainingJobsForOps(
  q: Queryable,
  opts: { limit?: number; status?: TrainingJobStatus } = {},
): Promise<OpsTrainingJob[]> {
  const res = await q.query<TrainingJobRow & { tenant_name: string }>(
    `SELECT ${TRAINING_JOB_COLUMNS.replace(/(^|,\s*)([a-z_]+)/g, '$1j.$2')}, t.name AS tenant_name
       FROM training_jobs j JOIN tenants t ON t.id = j.tenant_id
      WHERE ($1::"TrainingJobStatus" IS NULL OR j.status = $1::"TrainingJobStatus")
      ORDER BY j.created_at DESC, j.id DESC LIMIT $2`,
    [opts.status ?? null, opts.limit ?? 50],
  );
  return res.rows.map((r) => ({
    ...toTrainingJobObject(r),
    tenant: { id: r.tenant_id, name: r.tenant_name },
    worker: r.worker,
  }));
}
