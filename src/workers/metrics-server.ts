import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../core/metrics';

/**
 * The worker's own tiny HTTP server (`WORKER_METRICS_PORT`): `GET /metrics` (Prometheus text of
 * the process registry) and `GET /healthz`. Queue depth is not here: the API exports it, once for
 * the deployment (every process would read the same Redis).
 */
export class MetricsServer {
  private server?: http.Server;

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : 0;
  }

  listen(port: number, host = '0.0.0.0'): Promise<void> {
    const server = http.createServer((req, res) => {
      const url = req.url?.split('?')[0];
      if (req.method === 'GET' && url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        void registry.metrics().then(
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
