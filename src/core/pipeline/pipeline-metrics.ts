import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics';

/** Pipeline metrics, on the process registry (the worker's /metrics). */

export const documentsProcessed = new Counter({
  name: 'docbatch_documents_processed_total',
  help: 'Documents finished by workers, by task and outcome (completed, failed, cancelled, expired)',
  labelNames: ['task', 'outcome'] as const,
  registers: [registry],
});

export const tensorBatchSize = new Histogram({
  name: 'docbatch_tensor_batch_size',
  help: 'Documents per tensor batch',
  labelNames: ['task'] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  registers: [registry],
});

export const tensorBatchPadding = new Histogram({
  name: 'docbatch_tensor_batch_padding_ratio',
  help: 'Fraction of a tensor batch (documents x padded length) that is padding',
  labelNames: ['task'] as const,
  buckets: [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1],
  registers: [registry],
});

export const inferenceSeconds = new Histogram({
  name: 'docbatch_inference_seconds',
  help: 'Model time per tensor batch (runBatch), seconds',
  labelNames: ['task'] as const,
  // Up to 10 minutes: one translation tensor batch took ~42 s on a loaded CPU (issue 17).
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  registers: [registry],
});

export const chunkRetries = new Counter({
  name: 'docbatch_chunk_retries_total',
  help: 'Chunk job attempts that failed and will be retried, by task',
  labelNames: ['task'] as const,
  registers: [registry],
});

export const chunksFailed = new Counter({
  name: 'docbatch_chunks_failed_total',
  help: 'Chunk jobs that failed their last attempt (their documents were marked failed), by task',
  labelNames: ['task'] as const,
  registers: [registry],
});

export const reconcileRequeued = new Counter({
  name: 'docbatch_reconcile_requeued_documents_total',
  help: 'Unfinished documents no live job covered, re-enqueued by the reconciler',
  registers: [registry],
});

/** Cumulative busy seconds of a task's threads (see {@link trackThreads}). */
export type ThreadActiveSource = () => { inference: number; tokenizer: number | null };

interface TrackedThreads {
  task: string;
  source: ThreadActiveSource;
  /** Figures already counted, by thread. */
  seen: Map<string, number>;
}

const tracked = new Set<TrackedThreads>();

function collectThreads(t: TrackedThreads): void {
  for (const [thread, value] of Object.entries(t.source())) {
    if (value === null) continue;
    const delta = value - (t.seen.get(thread) ?? 0);
    t.seen.set(thread, value);
    if (delta > 0) threadActiveSeconds.inc({ task: t.task, thread }, delta);
  }
}

export const threadActiveSeconds = new Counter({
  name: 'docbatch_thread_active_seconds_total',
  help: 'Time the inference and tokenizer threads spent working rather than waiting, seconds, by task and thread; its rate is the thread utilization (near 1: the model is the bottleneck)',
  labelNames: ['task', 'thread'] as const,
  registers: [registry],
  collect() {
    for (const t of tracked) collectThreads(t);
  },
});

/** Counts a task's thread busy time on /metrics until the returned function is called. */
export function trackThreads(task: string, source: ThreadActiveSource): () => void {
  const t: TrackedThreads = { task, source, seen: new Map() };
  tracked.add(t);
  return () => {
    if (!tracked.delete(t)) return;
    collectThreads(t); // what the threads did since the last scrape stays counted
  };
}
