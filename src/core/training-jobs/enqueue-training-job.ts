import type { JobsOptions } from 'bullmq';
import { TRAINING_QUEUE, trainingJobSchema } from '../queue/catalog';
import type { TrainingJobPayload } from '../queue/catalog';
import type { QueueSet } from '../queue/queues';

/**
 * BullMQ options of a training job. One BullMQ attempt per enqueue: a failure inside training is
 * final (it is deterministic, a retry would fail the same way) and is recorded on the row by the
 * worker; a worker that dies mid-training leaves the job stalled, and BullMQ's stalled-job check
 * gives it to another worker (up to `maxStalledCount` times, set on the worker), which starts it over.
 */
export const TRAINING_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Enqueues a training job (job id = the training job's id: a second enqueue is a no-op while it exists). */
export async function enqueueTrainingJob(queues: QueueSet, trainingJobId: string): Promise<void> {
  const data: TrainingJobPayload = trainingJobSchema.parse({ trainingJobId });
  await queues.get(TRAINING_QUEUE).add('train', data, { ...TRAINING_JOB_OPTIONS, jobId: trainingJobId });
}
