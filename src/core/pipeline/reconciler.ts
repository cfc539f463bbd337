import type { Pool } from 'pg';
import type { Task } from '../models/types';
import { TASKS } from '../models/types';
import { chunkJobId, chunkJobSchema, chunkQueueName } from '../queue/catalog';
import type { ChunkJob } from '../queue/catalog';
import { chunkJobOptions } from '../queue/enqueue-chunks';
import type { QueueSet } from '../queue/queues';

/**
 * Reconciler: Postgres is the truth, Redis only a work list. Documents of active batches that no
 * live chunk job covers (Redis flushed or restarted, a job lost or removed) are re-enqueued as new
 * chunk jobs (a fresh generation in the job id). Idempotent: a job whose documents are already
 * finished claims nothing and completes at once; a document processed twice is written once.
 */

export interface ReconcileOptions {
  /** Chunk size of the jobs it creates (`CHUNK_SIZE`); they align with the API's chunks. */
  chunkSize: number;
  /** Attempts of the jobs it creates (`CHUNK_ATTEMPTS`). */
  attempts: number;
  /** Batches younger than this are skipped (their jobs may still be being enqueued), ms. */
  minAgeMs: number;
  /** Batches examined per run, at most. Default 500. */
  maxBatches?: number;
}

export interface ReconcileResult {
  batches: number;
  jobs: number;
  documents: number;
}

interface Range {
  from: number;
  to: number;
}

/** Job states in which a job still covers its documents. Read in this order (see `liveRanges`). */
const LIVE_STATES = [['delayed'], ['prioritized', 'waiting', 'waiting-children'], ['active']] as const;

/** Live chunk jobs of the task queue, by batch id: their seq ranges. */
async function liveRanges(queues: QueueSet, task: Task): Promise<Map<string, Range[]>> {
  const queue = queues.get(chunkQueueName(task));
  const out = new Map<string, Range[]>();
  // A job moving delayed -> waiting -> active between two reads is still seen once, because each
  // read comes after the states a job can come from.
  for (const states of LIVE_STATES) {
    const jobs = await queue.getJobs([...states], 0, -1);
    for (const job of jobs) {
      const parsed = chunkJobSchema.safeParse(job?.data);
      if (!parsed.success) continue;
      const d = parsed.data;
      const list = out.get(d.batchId) ?? [];
      list.push({ from: d.seqFrom, to: d.seqTo });
      out.set(d.batchId, list);
    }
  }
  return out;
}

/** `runs` minus `covered` (both lists of inclusive ranges). */
export function subtractRanges(runs: Range[], covered: Range[]): Range[] {
  const cov = [...covered].sort((a, b) => a.from - b.from);
  const out: Range[] = [];
  for (const run of runs) {
    let from = run.from;
    for (const c of cov) {
      if (c.to < from) continue;
      if (c.from > run.to) break;
      if (c.from > from) out.push({ from, to: Math.min(run.to, c.from - 1) });
      from = Math.max(from, c.to + 1);
      if (from > run.to) break;
    }
    if (from <= run.to) out.push({ from, to: run.to });
  }
  return out;
}

/**
 * Groups uncovered ranges by aligned chunk (`chunk = floor((seq - 1) / chunkSize)`): one job per
 * chunk spanning its uncovered documents (finished ones in between are skipped by the claim).
 */
export function alignToChunks(ranges: Range[], chunkSize: number): (Range & { chunk: number })[] {
  const byChunk = new Map<number, Range>();
  for (const r of ranges) {
    for (let from = r.from; from <= r.to;) {
      const chunk = Math.floor((from - 1) / chunkSize);
      const to = Math.min(r.to, (chunk + 1) * chunkSize);
      const cur = byChunk.get(chunk);
      if (cur) byChunk.set(chunk, { from: Math.min(cur.from, from), to: Math.max(cur.to, to) });
      else byChunk.set(chunk, { from, to });
      from = to + 1;
    }
  }
  return [...byChunk.entries()].sort((a, b) => a[0] - b[0]).map(([chunk, r]) => ({ chunk, ...r }));
}

/** One reconcile pass over the active batches. */
export async function reconcile(
  pool: Pool,
  queues: QueueSet,
  opts: ReconcileOptions,
): Promise<ReconcileResult> {
  const batches = await pool.query<{ id: string; task: string; priority: number }>(
    `SELECT id, task, priority FROM batches
     WHERE status IN ('queued', 'running', 'cancelling') AND (queued_count > 0 OR running_count > 0)
       AND created_at <= now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY priority, created_at LIMIT $2`,
    [opts.minAgeMs, opts.maxBatches ?? 500],
  );
  const result: ReconcileResult = { batches: 0, jobs: 0, documents: 0 };
  if (batches.rows.length === 0) return result;
  const live = new Map<Task, Map<string, Range[]>>();
  const generation = Date.now();
  for (const b of batches.rows) {
    if (!(TASKS as readonly string[]).includes(b.task)) continue;
    const task = b.task as Task;
    if (!live.has(task)) live.set(task, await liveRanges(queues, task));
    // Contiguous runs of unfinished documents (gaps and islands over the status index).
    const runs = await pool.query<{ from: number; to: number }>(
      `SELECT min(seq) AS "from", max(seq) AS "to" FROM (
         SELECT seq, seq - row_number() OVER (ORDER BY seq) AS grp FROM documents
         WHERE batch_id = $1 AND status IN ('queued', 'running')
       ) s GROUP BY grp ORDER BY 1`,
      [b.id],
    );
    const uncovered = subtractRanges(runs.rows, live.get(task)!.get(b.id) ?? []);
    if (uncovered.length === 0) continue;
    const chunks = alignToChunks(uncovered, opts.chunkSize);
    const base = chunkJobOptions(b.priority, opts.attempts);
    await queues.get(chunkQueueName(task)).addBulk(
      chunks.map((c) => {
        const data: ChunkJob = { batchId: b.id, chunk: c.chunk, seqFrom: c.from, seqTo: c.to };
        return { name: 'chunk', data, opts: { ...base, jobId: chunkJobId(b.id, c.chunk, generation) } };
      }),
    );
    result.batches++;
    result.jobs += chunks.length;
    result.documents += uncovered.reduce((n, r) => n + r.to - r.from + 1, 0);
  }
  return result;
}
