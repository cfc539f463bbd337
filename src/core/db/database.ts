import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../../generated/prisma/client';

export { PrismaClient };
export type { Prisma } from '../../generated/prisma/client';

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
  ) {
    this.pool = new Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
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
