import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../../generated/prisma/client';

export { PrismaClient };
export type { Prisma } from '../../generated/prisma/client';

/**
 * Time limits of a pool's connections; 0 or absent: none. Without them a query on a connection
 * that went silent (a network partition, a NAT or load-balancer flow dropped without a reset)
 * never settles, and the server keeps that connection's transaction and its row locks open.
 */
export interface DatabaseTimeouts {
  /**
   * Client side (pg `query_timeout`), ms: a query with no answer after this fails and its
   * connection is discarded. Set it above `statementTimeoutMs`, so that a slow statement is
   * cancelled by the server (the connection stays usable) and only a silent connection hits this.
   */
  queryTimeoutMs?: number;
  /** Server side `statement_timeout`, ms: Postgres cancels a statement running longer. */
  statementTimeoutMs?: number;
  /**
   * Server side `idle_in_transaction_session_timeout`, ms: Postgres ends a session left inside a
   * transaction by a client it no longer hears from, which releases its locks.
   */
  idleInTransactionTimeoutMs?: number;
}

/** Waiting for a connection from the pool or for a new one to be ready, ms. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Idle time before TCP keepalive probes start on a connection, ms (a peer that vanished is noticed). */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * One process's database handles: a `pg` pool (used for COPY and hand-written bulk SQL) and a
 * Prisma client running on the same pool through the pg driver adapter (no engine binaries).
 */
export class Database {
  readonly pool: Pool;
  readonly prisma: PrismaClient;
  private closed = false;

  constructor(
    readonly url: string,
    poolSize = 10,
    timeouts: DatabaseTimeouts = {},
  ) {
    const ms = (v: number | undefined): number | undefined => (v && v > 0 ? v : undefined);
    this.pool = new Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      query_timeout: ms(timeouts.queryTimeoutMs),
      statement_timeout: ms(timeouts.statementTimeoutMs),
      idle_in_transaction_session_timeout: ms(timeouts.idleInTransactionTimeoutMs),
    });
    // A pool error (server restarted under idle clients) must not crash the process; the next
    // query reconnects.
    this.pool.on('error', () => undefined);
    this.prisma = new PrismaClient({ adapter: new PrismaPg(this.pool) });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.prisma.$disconnect().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** Redacts the password of a connection URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
