import { Gauge } from 'prom-client';
import { registry } from '../core/metrics';
import type { QueueSet } from '../core/queue/queues';

/**
 * `docbatch_queue_depth{queue,state}`: jobs per BullMQ queue and state, sampled from Redis when
 * /metrics is scraped. Exported by the API process only (workers do not register it): every
 * process would read the same Redis, so a `sum` across processes counted the backlog once per
 * process (issue 17). With several API replicas each reports the same numbers: use `max`.
 */
export const queueDepth = new Gauge({
  name: 'docbatch_queue_depth',
  help: 'Jobs per queue and state (sampled from Redis on scrape; exported by the API process only)',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/** Samples every queue's job counts into {@link queueDepth}. */
export async function sampleQueueDepth(queues: QueueSet): Promise<void> {
  await Promise.all(
    queues.all().map(async (q) => {
      const counts = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      for (const [state, n] of Object.entries(counts)) queueDepth.set({ queue: q.name, state }, n);
    }),
  );
}
