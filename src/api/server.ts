import type { Duplex } from 'node:stream';
import type { Server } from 'node:http';
import type { ApiConfig } from '../core/config';
import { Database } from '../core/db/database';
import type { Logger } from '../core/logger';
import { QueueSet } from '../core/queue/queues';
import { createRedis } from '../core/redis';
import { closeBatchDeps, createApp } from './app';
import type { ApiContext } from './app';

/** The API process: HTTP server plus its connections. `start()`/`stop()` are idempotent. */
export class ApiServer {
  private server?: Server;
  private ctx?: ApiContext;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    private readonly config: ApiConfig,
    private readonly logger: Logger,
  ) {}

  /** The bound port (useful with PORT=0). */
  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : this.config.PORT;
  }

  get context(): ApiContext | undefined {
    return this.ctx;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const db = new Database(this.config.DATABASE_URL, this.config.DB_POOL_SIZE);
    const redis = createRedis(this.config.REDIS_URL, 'client');
    const queues = new QueueSet(createRedis(this.config.REDIS_URL, 'client'), this.config.QUEUE_PREFIX);
    this.ctx = { config: this.config, db, redis, queues, logger: this.logger };
    const app = createApp(this.ctx);
    await new Promise<void>((resolve, reject) => {
      const server = app.listen(this.config.PORT, this.config.HOST, () => resolve());
      server.once('error', reject);
      server.keepAliveTimeout = 65_000;
      server.requestTimeout = 0; // uploads of millions of documents take minutes (slow bodies: body-guard.ts)
      // Requests Node refuses before Express sees them (headers too large, malformed) still get the
      // contract's error body (issue 16: 431 answers had none).
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
        if (!socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
          socket.destroy();
          return;
        }
        const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
        const status = tooLarge ? 431 : 400;
        const body = JSON.stringify({
          error: tooLarge
            ? { code: 'INVALID_REQUEST', message: 'Request headers are too large.' }
            : { code: 'INVALID_REQUEST', message: 'Malformed HTTP request.' },
        });
        socket.end(
          `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
            `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `Connection: close\r\n\r\n${body}`,
        );
      });
      this.server = server;
    });
    this.logger.info({ port: this.port, host: this.config.HOST }, 'api listening');
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.server) {
      const server = this.server;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a grace period, then are cut.
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, 10_000).unref();
      });
    }
    if (this.ctx) {
      await closeBatchDeps(this.ctx);
      await this.ctx.queues.close();
      this.ctx.redis.disconnect();
      await this.ctx.db.close();
    }
    this.logger.info('api stopped');
  }
}
