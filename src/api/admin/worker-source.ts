import { listWorkers } from '../../core/workers';
import type { WorkerHeartbeat } from '../../core/workers';
import type { ApiContext } from '../app';
import type { WorkerView } from './views/workers-view';

/** Where the worker panel's data comes from. */
export type WorkerSource = () => Promise<WorkerView[]>;

/** Maps a worker heartbeat to the panel's view of it. */
export function toWorkerView(hb: WorkerHeartbeat): WorkerView {
  const ran = hb.documents_total > 0;
  return {
    id: hb.id,
    host: `${hb.host} · pid ${hb.pid}`,
    backend: hb.backend,
    tasks: hb.tasks,
    active_jobs: hb.active_jobs,
    concurrency: hb.concurrency,
    tensor_batch_size: ran ? hb.last_tensor_batch_size : null,
    padding_ratio: ran ? hb.last_padding_ratio : null,
    docs_per_s_now: hb.docs_per_s,
    docs_per_s: hb.docs_per_s_series,
    bucket_seconds: hb.series_bucket_s,
    documents_total: hb.documents_total,
    last_seen: hb.updated_at,
    cpu_percent: typeof hb.cpu_percent === 'number' ? hb.cpu_percent : null,
    cpu_cores: typeof hb.cpu_cores === 'number' ? hb.cpu_cores : null,
    rss_bytes: typeof hb.rss_bytes === 'number' ? hb.rss_bytes : null,
  };
}

/** The live workers from their Redis heartbeats (`listWorkers`). */
export function heartbeatWorkerSource(ctx: ApiContext): WorkerSource {
  return async () => (await listWorkers(ctx.redis, ctx.config.QUEUE_PREFIX)).map(toWorkerView);
}
