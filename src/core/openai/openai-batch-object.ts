import type { BatchStatus } from '../batches';
import type { BatchLineError } from './request-lines';

/**
 * OpenAI's Batch object, built from an `openai_batches` row joined with its docbatch batch.
 *
 * Status: the docbatch batch is validated and stored when it is created, so an OpenAI batch is never
 * `validating` when a client sees it; `queued` and `running` are `in_progress`. Once the docbatch batch
 * finished, its output and error files are written (`finalizing` while another request writes them),
 * then it is `completed`, `expired` or `cancelled`. `failed` is a batch whose input file failed
 * validation (no docbatch batch, line errors in `errors`) or whose model could not run.
 * `request_counts.failed` counts every request in the error file: failed, expired and cancelled ones.
 */

export const OPENAI_BATCH_STATUSES = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
] as const;
export type OpenAiBatchStatus = (typeof OPENAI_BATCH_STATUSES)[number];

export interface OpenAiBatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  model: string | null;
  errors: { object: 'list'; data: BatchLineError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: OpenAiBatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

/** An `openai_batches` row with the columns of its docbatch batch (`b_*`, null without one). */
export interface OpenAiBatchRow {
  id: string;
  tenant_id: string;
  batch_id: string | null;
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: Record<string, string> | null;
  errors: BatchLineError[] | null;
  created_at: Date;
  failed_at: Date | null;
  cancelling_at: Date | null;
  output_file_id: string | null;
  error_file_id: string | null;
  files_written_at: Date | null;
  b_task: string | null;
  b_model: string | null;
  b_status: BatchStatus | null;
  b_error: { code: string; message: string } | null;
  b_total: number | null;
  b_completed: number | null;
  b_failed: number | null;
  b_cancelled: number | null;
  b_expired: number | null;
  b_created_at: Date | null;
  b_finished_at: Date | null;
  b_expires_at: Date | null;
}

/** The select list and join that read {@link OpenAiBatchRow}s (`o` is openai_batches, `b` batches). */
export const OPENAI_BATCH_SELECT = `SELECT o.id, o.tenant_id, o.batch_id, o.input_file_id, o.endpoint, o.completion_window,
       o.metadata, o.errors, o.created_at, o.failed_at, o.cancelling_at, o.output_file_id, o.error_file_id,
       o.files_written_at, b.task AS b_task, b.model AS b_model, b.status AS b_status, b.error AS b_error,
       b.total AS b_total, b.completed_count AS b_completed, b.failed_count AS b_failed,
       b.cancelled_count AS b_cancelled, b.expired_count AS b_expired, b.created_at AS b_created_at,
       b.finished_at AS b_finished_at, b.expires_at AS b_expires_at
  FROM openai_batches o LEFT JOIN batches b ON b.id = o.batch_id`;

const unix = (d: Date | null): number | null => (d ? Math.floor(d.getTime() / 1000) : null);

/** True when the docbatch batch finished and its output and error files are still to be written. */
export function needsFiles(row: OpenAiBatchRow): boolean {
  return (
    row.batch_id !== null &&
    row.files_written_at === null &&
    (row.b_status === 'completed' ||
      row.b_status === 'failed' ||
      row.b_status === 'cancelled' ||
      row.b_status === 'expired')
  );
}

function statusOf(row: OpenAiBatchRow): OpenAiBatchStatus {
  const written = row.files_written_at !== null;
  switch (row.b_status) {
    case null:
      return 'failed';
    case 'queued':
    case 'running':
      return 'in_progress';
    case 'cancelling':
      return 'cancelling';
    case 'cancelled':
      return written ? 'cancelled' : 'cancelling';
    case 'completed':
      return written ? 'completed' : 'finalizing';
    case 'expired':
      return written ? 'expired' : 'finalizing';
    case 'failed':
      return 'failed';
  }
}

export function toOpenAiBatch(row: OpenAiBatchRow): OpenAiBatchObject {
  const status = statusOf(row);
  const finished = unix(row.b_finished_at);
  const errors: BatchLineError[] | null =
    row.errors ??
    (row.b_status === 'failed' && row.b_error
      ? [{ code: row.b_error.code, message: row.b_error.message, param: null, line: null }]
      : null);
  const cancelled = row.b_status === 'cancelling' || row.b_status === 'cancelled';
  return {
    id: row.id,
    object: 'batch',
    endpoint: row.endpoint,
    model: row.b_model,
    errors: errors ? { object: 'list', data: errors } : null,
    input_file_id: row.input_file_id,
    completion_window: row.completion_window,
    status,
    output_file_id: row.output_file_id,
    error_file_id: row.error_file_id,
    created_at: unix(row.created_at) as number,
    // The input was validated and stored when the batch was created: it is in progress from then on.
    in_progress_at: unix(row.b_created_at),
    expires_at: unix(row.b_expires_at),
    finalizing_at: row.b_status === 'completed' || row.b_status === 'expired' ? finished : null,
    completed_at: status === 'completed' ? unix(row.files_written_at) : null,
    failed_at: row.batch_id === null ? unix(row.failed_at) : row.b_status === 'failed' ? finished : null,
    expired_at: row.b_status === 'expired' ? finished : null,
    cancelling_at: cancelled ? (unix(row.cancelling_at) ?? finished) : null,
    cancelled_at: status === 'cancelled' ? finished : null,
    request_counts: {
      total: row.b_total ?? 0,
      completed: row.b_completed ?? 0,
      failed: (row.b_failed ?? 0) + (row.b_cancelled ?? 0) + (row.b_expired ?? 0),
    },
    metadata: row.metadata,
  };
}
