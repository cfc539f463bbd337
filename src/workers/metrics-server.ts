import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { queueDepth, registry } from '../core/metrics';
import type { Task } from '../core/models/types';
import { chunkQueueName } from '../core/queue/catalog';
import type { QueueSet } from '../core/queue/queues';

/**
 * The worker's own tiny HTTP server (`WORKER_METRICS_PORT`): `GET /metrics` (Prometheus text of
 * the process registry, queue depth sampled per scrape) and `GET /healthz`.
 */
export class MetricsServer {
  private server?: http.Server;

  constructor(
    private readonly queues: QueueSet,
    private readonly tasks: readonly Task[],
  ) {}

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : 0;
  }

  private async sampleQueueDepth(): Promise<void> {
    await Promise.all(
      this.tasks.map(async (task) => {
        const q = this.queues.get(chunkQueueName(task));
        const counts = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
        for (const [state, n] of Object.entries(counts)) queueDepth.set({ queue: q.name, state }, n);
      }),
    );
  }

  listen(port: number, host = '0.0.0.0'): Promise<void> {
    const server = http.createServer((req, res) => {
      const url = req.url?.split('?')[0];
      if (req.method === 'GET' && url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        const timeout = new Promise<void>((r) => setTimeout(r, 2_000).unref());
        void Promise.race([this.sampleQueueDepth().catch(() => undefined), timeout])
          .then(() => registry.metrics())
          .then(
            (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
            () => res.writeHead(500).end(),
          );
        return;
      }
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":{"code":"NOT_FOUND","message":"No such route."}}');
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
