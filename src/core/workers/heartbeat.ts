import type { Redis } from 'ioredis';

/**
 * Worker heartbeats in Redis: each worker process writes `<prefix>:workers:<id>` (JSON, with a TTL)
 * every few seconds; a worker that stops writing disappears when the TTL passes. Read by the API
 * (`GET /v1/models` backend) and the ops dashboard through {@link listWorkers}.
 */
export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  /** ISO-8601. */
  started_at: string;
  /** ISO-8601 time of this heartbeat. */
  updated_at: string;
  /** TensorFlow.js backend in use (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  /** Tasks whose queues this worker pulls. */
  tasks: string[];
  /** Chunk jobs processed at once (`WORKER_CONCURRENCY`). */
  concurrency: number;
  /** Chunk jobs in progress now. */
  active_jobs: number;
  /** Documents per second over the last minute. */
  docs_per_s: number;
  /** Documents per second per bucket, oldest first. */
  docs_per_s_series: number[];
  /** Length of one bucket of the series, seconds. */
  series_bucket_s: number;
  /** Documents in the last tensor batch. */
  last_tensor_batch_size: number;
  /** Padding fraction of the last tensor batch. */
  last_padding_ratio: number;
  /** Documents finished since start. */
  documents_total: number;
  /**
   * CPU time of the process (main thread and its inference threads) over the last heartbeat
   * period, percent of one core (above 100 with several threads busy). Absent from older workers.
   */
  cpu_percent?: number;
  /** Cores the process may use (`os.availableParallelism()`). */
  cpu_cores?: number;
  /** Resident set size of the process, bytes. */
  rss_bytes?: number;
}

export function heartbeatKey(prefix: string, id: string): string {
  return `${prefix}:workers:${id}`;
}

/** Writes one heartbeat with a TTL (ms). */
export async function writeHeartbeat(
  redis: Redis,
  prefix: string,
  hb: WorkerHeartbeat,
  ttlMs: number,
): Promise<void> {
  await redis.set(heartbeatKey(prefix, hb.id), JSON.stringify(hb), 'PX', ttlMs);
}

export async function removeHeartbeat(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.del(heartbeatKey(prefix, id));
}

/** Every live worker of the deployment (those whose heartbeat has not expired), sorted by id. */
export async function listWorkers(redis: Redis, prefix: string): Promise<WorkerHeartbeat[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${heartbeatKey(prefix, '*')}`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  const out: WorkerHeartbeat[] = [];
  for (const v of values) {
    if (!v) continue;
    try {
      out.push(JSON.parse(v) as WorkerHeartbeat);
    } catch {
      // A foreign or truncated value: skip it.
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
