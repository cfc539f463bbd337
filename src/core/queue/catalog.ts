import { z } from 'zod';
import { TASKS } from '../models/types';
import type { Task } from '../models/types';

/**
 * The typed job catalog: every queue, its job payload schema and its default job options. The
 * producer (API) validates with the same schemas the consumers (workers) trust.
 *
 * Terminology: a **chunk** is a contiguous range of a batch's documents (by input position,
 * `seq`) processed by one **chunk job**; a job carries ids only, never document text.
 */

/** Payload of a chunk job: documents `seqFrom..seqTo` (inclusive) of `batchId`. */
export const chunkJobSchema = z.object({
  batchId: z.string().min(1),
  /** 0-based chunk index within the batch (job ids derive from it). */
  chunk: z.number().int().min(0),
  seqFrom: z.number().int().min(1),
  seqTo: z.number().int().min(1),
});
export type ChunkJob = z.infer<typeof chunkJobSchema>;

/** Payload of a webhook delivery job: attempt `attempt` (1-based, over all series) of a delivery. */
export const webhookJobSchema = z.object({ deliveryId: z.string().min(1), attempt: z.number().int().min(1) });
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Job id of a webhook attempt: re-relaying the same attempt is a no-op while its job exists. */
export function webhookJobId(deliveryId: string, attempt: number): string {
  return `${deliveryId}-a${attempt}`;
}

/**
 * Payload of a training job: the id of its `training_jobs` row (the row holds everything else). The
 * BullMQ job id is the training job's id, so enqueueing it twice is a no-op while the first exists.
 */
export const trainingJobSchema = z.object({ trainingJobId: z.string().regex(/^tj_[0-9a-z]{1,60}$/) });
export type TrainingJobPayload = z.infer<typeof trainingJobSchema>;

/** Queue name of a task's chunk jobs. */
export function chunkQueueName(task: Task): string {
  return `chunks-${task}`;
}
export const CHUNK_QUEUES: readonly string[] = TASKS.map(chunkQueueName);
export const WEBHOOK_QUEUE = 'webhooks';
/** Training jobs (issue 20): consumed one at a time per worker, in a thread of its own (src/workers/training-worker.ts). */
export const TRAINING_QUEUE = 'training';
/**
 * Every BullMQ queue of the platform. Periodic maintenance (expiry, reconciler, retention) is not a
 * queue: it runs on a timer in the worker holding the leader lease (core/pipeline/maintenance-loop.ts),
 * so there is no `maintenance` queue (bull-board showed one that nothing consumed).
 */
export const ALL_QUEUES: readonly string[] = [...CHUNK_QUEUES, WEBHOOK_QUEUE, TRAINING_QUEUE];

/**
 * Job id of a chunk job. Deterministic, so enqueueing the same chunk twice is a no-op while the
 * first job exists; `generation` distinguishes a deliberate re-enqueue (retry, reconcile).
 */
export function chunkJobId(batchId: string, chunk: number, generation = 0): string {
  return generation === 0 ? `${batchId}-c${chunk}` : `${batchId}-c${chunk}-g${generation}`;
}

/** Maps a batch priority (1 highest .. 10) to a BullMQ priority (lower number = sooner). */
export function bullPriority(priority: number): number {
  return Math.max(1, Math.min(10, Math.round(priority)));
}
