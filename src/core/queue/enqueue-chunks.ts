import type { JobsOptions } from 'bullmq';
import type { Task } from '../models/types';
import { bullPriority, chunkJobId, chunkJobSchema, chunkQueueName } from './catalog';
import type { ChunkJob } from './catalog';
import type { QueueSet } from './queues';

/**
 * Splits a batch into chunk jobs on its task's queue. A job carries ids only (batch id and a `seq`
 * range), never text. Job ids are deterministic (`chunkJobId(batch, chunk, generation)`), so
 * enqueueing the same chunk twice is a no-op while the first job exists; a retry uses a new
 * generation.
 */

/** One chunk: documents `seqFrom..seqTo` (inclusive, 1-based input positions). */
export interface ChunkRange {
  chunk: number;
  seqFrom: number;
  seqTo: number;
}

export interface EnqueueChunksOptions {
  batchId: string;
  task: Task;
  /** Batch priority, 1 (highest) .. 10. */
  priority: number;
  /** Attempts per job before its documents are marked failed (`CHUNK_ATTEMPTS`). */
  attempts: number;
  /** 0 for the first enqueue; a fresh number for each deliberate re-enqueue (retry). */
  generation?: number;
}

/** Contiguous ranges of `chunkSize` documents covering seq 1..total. */
export function chunkRanges(total: number, chunkSize: number): ChunkRange[] {
  const out: ChunkRange[] = [];
  for (let chunk = 0, from = 1; from <= total; chunk++, from += chunkSize) {
    out.push({ chunk, seqFrom: from, seqTo: Math.min(total, from + chunkSize - 1) });
  }
  return out;
}

/** Job options of every chunk job. */
export function chunkJobOptions(priority: number, attempts: number): JobsOptions {
  return {
    priority: bullPriority(priority),
    attempts,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** Adds one job per range with addBulk (in slices of 1,000); returns the number of jobs added. */
export async function enqueueChunks(
  queues: QueueSet,
  ranges: readonly ChunkRange[],
  opts: EnqueueChunksOptions,
): Promise<number> {
  const queue = queues.get(chunkQueueName(opts.task));
  const base = chunkJobOptions(opts.priority, opts.attempts);
  const SLICE = 1_000;
  for (let i = 0; i < ranges.length; i += SLICE) {
    const jobs = ranges.slice(i, i + SLICE).map((r) => {
      const data: ChunkJob = chunkJobSchema.parse({
        batchId: opts.batchId,
        chunk: r.chunk,
        seqFrom: r.seqFrom,
        seqTo: r.seqTo,
      });
      return {
        name: 'chunk',
        data,
        opts: { ...base, jobId: chunkJobId(opts.batchId, r.chunk, opts.generation ?? 0) },
      };
    });
    await queue.addBulk(jobs);
  }
  return ranges.length;
}
