import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ALL_QUEUES } from './catalog';

/** Producer-side BullMQ queues of one process, sharing one Redis connection (owned: closed by `close()`). */
export class QueueSet {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {}

  get(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      q.on('error', () => undefined);
      this.queues.set(name, q);
    }
    return q;
  }

  /** Every queue the platform uses (for dashboards and metrics). */
  all(): Queue[] {
    return ALL_QUEUES.map((n) => this.get(n));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
    // BullMQ does not close a connection it was given.
    this.connection.disconnect();
  }
}
