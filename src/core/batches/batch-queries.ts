import { AppError } from '../errors';
import type { Queryable } from '../db/queryable';
import { BATCH_COLUMNS, BATCH_STATUSES, toBatchObject } from './batch-object';
import type { BatchObject, BatchRow, BatchStatus } from './batch-object';
import { decodeBatchCursor, encodeBatchCursor } from './cursors';

/**
 * Reads batches, always scoped to a tenant: another tenant's batch is "not found", and so is a
 * batch being deleted (`deleted_at` set).
 */

export function notFound(batchId: string): AppError {
  return new AppError('NOT_FOUND', `No batch ${JSON.stringify(batchId)}.`);
}

/** The row of a tenant's batch, or null. `forUpdate` locks it (inside a transaction). */
export async function findBatchRow(
  q: Queryable,
  tenantId: string,
  batchId: string,
  forUpdate = false,
): Promise<BatchRow | null> {
  const res = await q.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL${forUpdate ? ' FOR UPDATE' : ''}`,
    [batchId, tenantId],
  );
  return res.rows[0] ?? null;
}

/** A tenant's batch with live counts; 404 NOT_FOUND when absent or another tenant's. */
export async function getBatch(q: Queryable, tenantId: string, batchId: string): Promise<BatchObject> {
  const row = await findBatchRow(q, tenantId, batchId);
  if (!row) throw notFound(batchId);
  return toBatchObject(row);
}

export interface ListBatchesOptions {
  /** 1..100, default 20. */
  limit?: number;
  /** Cursor from a previous page's `next_cursor`. */
  after?: string;
  status?: BatchStatus;
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** A tenant's batches, newest first, keyset-paginated on (created_at, id). */
export async function listBatches(
  q: Queryable,
  tenantId: string,
  opts: ListBatchesOptions = {},
): Promise<ListPage<BatchObject>> {
  const limit = opts.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new AppError('INVALID_REQUEST', 'limit must be an integer from 1 to 100.', [
      { field: 'limit', message: 'must be an integer from 1 to 100' },
    ]);
  }
  if (opts.status !== undefined && !BATCH_STATUSES.includes(opts.status)) {
    throw new AppError('INVALID_REQUEST', `status must be one of ${BATCH_STATUSES.join(', ')}.`, [
      { field: 'status', message: `must be one of ${BATCH_STATUSES.join(', ')}` },
    ]);
  }
  const params: unknown[] = [tenantId];
  let where = 'tenant_id = $1 AND deleted_at IS NULL';
  if (opts.status) {
    params.push(opts.status);
    where += ` AND status = $${params.length}::"BatchStatus"`;
  }
  if (opts.after) {
    const c = decodeBatchCursor(opts.after);
    params.push(c.c, c.i);
    where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  params.push(limit + 1);
  const res = await q.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM batches WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const rows = res.rows.slice(0, limit);
  const hasMore = res.rows.length > limit;
  const last = rows[rows.length - 1];
  const now = new Date();
  return {
    object: 'list',
    data: rows.map((r) => toBatchObject(r, now)),
    has_more: hasMore,
    next_cursor: hasMore && last ? encodeBatchCursor(last.created_at, last.id) : null,
  };
}
