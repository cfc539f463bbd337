import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request a test receiver got. */
export interface ReceivedWebhook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver answers to the n-th (1-based) request on a path; `hang` never answers. */
export type Reply = { status: number; headers?: Record<string, string>; hang?: boolean };

/**
 * A real HTTP server on 127.0.0.1 that records every webhook it receives and answers per path
 * (default 200). Used by the webhooks integration tests.
 */
export class TestReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly replies = new Map<string, (n: number) => Reply>();
  private readonly hanging = new Set<http.ServerResponse>();
  private server?: http.Server;
  port = 0;

  constructor(private readonly host = '127.0.0.1') {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0] as string;
        this.received.push({
          path,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        const n = this.received.filter((r) => r.path === path).length;
        const reply = this.replies.get(path)?.(n) ?? { status: 200 };
        if (reply.hang) {
          this.hanging.add(res);
          return;
        }
        res.writeHead(reply.status, reply.headers ?? {});
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, this.host, () => resolve()));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://${this.host}:${this.port}${path}`;
  }

  /** Sets how `path` answers its n-th request. */
  on(path: string, reply: (n: number) => Reply): void {
    this.replies.set(path, reply);
  }

  at(path: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
