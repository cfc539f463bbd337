import type { Pool } from 'pg';

/**
 * `RETENTION_DAYS` for the OpenAI-compatible surface, run by the maintenance loop beside the batch
 * retention sweep. An OpenAI batch that ran is its docbatch batch: it goes with it, and so do its output
 * and error files (foreign keys with cascade). What the batch sweep cannot reach is deleted here once
 * it is older than the retention: uploaded input files (with their bytes: the documents' texts) and the
 * records of batches whose input failed validation (they have no docbatch batch).
 */

/** Rows deleted per statement (a file's parts go with it: up to `MAX_BODY_BYTES` of bytes). */
const DELETE_LIMIT = 20;

export interface OpenAiRetentionResult {
  /** Input files deleted. */
  files: number;
  /** Failed-validation batch records deleted. */
  batches: number;
  /** Work is left (the deadline passed). */
  more: boolean;
}

/** Deletes input files and failed batch records older than `retentionDays` (0: keep), until `deadline` (epoch ms). */
export async function openAiRetentionSweep(
  pool: Pool,
  retentionDays: number,
  deadline: number,
): Promise<OpenAiRetentionResult> {
  const out: OpenAiRetentionResult = { files: 0, batches: 0, more: false };
  if (!(retentionDays > 0)) return out;
  const secs = retentionDays * 86_400;
  const batches = await pool.query(
    `DELETE FROM openai_batches WHERE batch_id IS NULL AND created_at < now() - make_interval(secs => $1::float8)`,
    [secs],
  );
  out.batches = batches.rowCount ?? 0;
  for (;;) {
    if (Date.now() >= deadline) {
      out.more = true;
      return out;
    }
    const res = await pool.query(
      `DELETE FROM openai_files WHERE id IN (
         SELECT id FROM openai_files
          WHERE batch_id IS NULL AND created_at < now() - make_interval(secs => $1::float8)
          ORDER BY created_at LIMIT $2
          FOR UPDATE SKIP LOCKED)`,
      [secs, DELETE_LIMIT],
    );
    out.files += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < DELETE_LIMIT) return out;
  }
}
