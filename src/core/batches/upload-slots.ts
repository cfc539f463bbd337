import { AppError } from '../errors';

/**
 * Bounds the uploads one API process ingests at once. Each upload holds a Postgres connection for
 * its whole transaction (minutes for a million documents), so without a bound a few large uploads
 * would take every pooled connection and starve reads. Beyond the bound an upload waits (its body
 * is not read meanwhile: TCP backpressure) up to `maxWaitMs`, then gets 429 RATE_LIMITED with
 * Retry-After. Small JSON-form batches take no slot (see ingest-small.ts).
 *
 * One tenant holds at most `perTenant` slots (issue 16: eight slow uploads of one tenant took every
 * slot and every other tenant got 429): its further uploads wait while other tenants' uploads take the
 * free slots, and a released slot goes to the first waiting upload whose tenant is below its share.
 */
export class UploadSlots {
  private active = 0;
  private readonly byTenant = new Map<string, number>();
  private readonly waiting: { tenant: string; wake: () => void }[] = [];

  constructor(
    /** Uploads at once; the API uses DB_POOL_SIZE - 2 (at least 1), keeping connections for reads. */
    readonly capacity: number,
    private readonly maxWaitMs = 30_000,
    /** Slots one tenant may hold at once (default: half the capacity, at least 1). */
    readonly perTenant = Math.max(1, Math.floor(capacity / 2)),
  ) {}

  private canTake(tenant: string): boolean {
    return this.active < this.capacity && (this.byTenant.get(tenant) ?? 0) < this.perTenant;
  }

  private take(tenant: string): void {
    this.active++;
    this.byTenant.set(tenant, (this.byTenant.get(tenant) ?? 0) + 1);
  }

  /** Waits for a slot for `tenant`; returns its release function (call it exactly once). */
  async acquire(tenant = ''): Promise<() => void> {
    if (this.canTake(tenant)) {
      this.take(tenant);
    } else {
      const full = this.active >= this.capacity;
      await new Promise<void>((resolve, reject) => {
        const entry = {
          tenant,
          wake: (): void => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(
            new AppError(
              'RATE_LIMITED',
              full
                ? `This server is ingesting ${this.capacity} uploads already; retry shortly.`
                : `This tenant is already sending ${this.perTenant} uploads at once (UPLOAD_SLOTS_PER_TENANT); retry when one has finished.`,
              undefined,
              { 'Retry-After': '10' },
            ),
          );
        }, this.maxWaitMs);
        this.waiting.push(entry);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const n = (this.byTenant.get(tenant) ?? 1) - 1;
      if (n > 0) this.byTenant.set(tenant, n);
      else this.byTenant.delete(tenant);
      this.wakeNext();
    };
  }

  /** Gives free slots to the first waiting uploads whose tenants are below their share. */
  private wakeNext(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.capacity;) {
      const w = this.waiting[i]!;
      if (this.canTake(w.tenant)) {
        this.waiting.splice(i, 1);
        this.take(w.tenant);
        w.wake();
      } else {
        i++;
      }
    }
  }

  /** Uploads in progress. */
  get inUse(): number {
    return this.active;
  }

  /** Uploads of one tenant in progress. */
  inUseBy(tenant: string): number {
    return this.byTenant.get(tenant) ?? 0;
  }
}
