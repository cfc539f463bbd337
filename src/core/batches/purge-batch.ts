import type { Pool } from 'pg';

/**
 * Removes the rows of batches marked deleted (`deleted_at` set by DELETE /v1/batches/{id} or by the
 * retention sweep). A marked batch is already invisible to every read, so its documents can go in
 * bounded transactions without anyone seeing a half-deleted batch: each DELETE removes at most
 * `chunkDocuments` documents by input position (an index range of one partition, committed on its
 * own, so no lock is held long and the workers' write-backs never wait behind it); the batch row
 * goes last, and its webhook deliveries and attempts with it (foreign-key cascade, a few rows).
 * Interrupted (a crash, a deadline), the next call carries on where it stopped.
 */

/** Documents per DELETE transaction. */
export const PURGE_CHUNK_DOCUMENTS = 5_000;

/**
 * Pause after each DELETE transaction, as a multiple of the time it took (2: the purge works at most a third
 * of the time). Deleting flat out (~300,000 documents/s here) takes the disk and CPU from the workers'
 * write-backs: a batch processed meanwhile ran at 0.92 and 0.69 of its speed alone (bench/retention.ts);
 * with 1, 0.79 and 0.85; with 2, 1.02, 0.95 and 1.10, still purging 117,000-153,000 documents/s.
 */
export const PURGE_PAUSE_RATIO = 2;

export interface PurgeOptions {
  /** Documents per transaction. Default {@link PURGE_CHUNK_DOCUMENTS}. */
  chunkDocuments?: number;
  /** Stop (leaving the rest for a later call) once this time (epoch ms) has passed. Default: none. */
  deadline?: number;
  /** Pause after each transaction, as a multiple of its duration. Default {@link PURGE_PAUSE_RATIO}. */
  pauseRatio?: number;
}

export interface PurgeOutcome {
  /** Documents deleted by this call. */
  documents: number;
  /** The batch row is gone (everything of the batch is). */
  done: boolean;
}

/** Purges one batch that is marked deleted; a batch not marked is left alone (`done: false`). */
export async function purgeBatch(
  pool: Pool,
  batchId: string,
  opts: PurgeOptions = {},
): Promise<PurgeOutcome> {
  const chunk = Math.max(1, opts.chunkDocuments ?? PURGE_CHUNK_DOCUMENTS);
  const marked = await pool.query<{ total: number }>(
    'SELECT total FROM batches WHERE id = $1 AND deleted_at IS NOT NULL',
    [batchId],
  );
  const row = marked.rows[0];
  if (!row) return { documents: 0, done: false };
  let documents = 0;
  const first = await pool.query<{ seq: number | null }>(
    'SELECT min(seq) AS seq FROM documents WHERE batch_id = $1',
    [batchId],
  );
  let from = first.rows[0]?.seq ?? null;
  // seq is the 1-based input position, dense up to `total`: ranges of `chunk` positions.
  while (from !== null && from <= row.total) {
    if (opts.deadline !== undefined && Date.now() >= opts.deadline) return { documents, done: false };
    const started = Date.now();
    const res = await pool.query('DELETE FROM documents WHERE batch_id = $1 AND seq >= $2 AND seq < $3', [
      batchId,
      from,
      from + chunk,
    ]);
    documents += res.rowCount ?? 0;
    from += chunk;
    const pause = (Date.now() - started) * (opts.pauseRatio ?? PURGE_PAUSE_RATIO);
    if (pause > 0 && (res.rowCount ?? 0) > 0) await new Promise((r) => setTimeout(r, pause));
  }
  if (opts.deadline !== undefined && Date.now() >= opts.deadline) return { documents, done: false };
  // Anything past `total` (none in practice) and the deliveries go with the row (cascade).
  await pool.query('DELETE FROM batches WHERE id = $1 AND deleted_at IS NOT NULL', [batchId]);
  return { documents, done: true };
}

/** Batches marked deleted whose rows are not gone yet, oldest mark first. */
export async function markedBatches(pool: Pool, limit: number): Promise<string[]> {
  const res = await pool.query<{ id: string }>(
    'SELECT id FROM batches WHERE deleted_at IS NOT NULL ORDER BY deleted_at, id LIMIT $1',
    [limit],
  );
  return res.rows.map((r) => r.id);
}
