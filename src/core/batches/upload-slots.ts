import { AppError } from '../errors';

/**
 * Bounds the uploads one API process ingests at once. Each upload holds a Postgres connection for
 * its whole transaction (minutes for a million documents), so without a bound a few large uploads
 * would take every pooled connection and starve reads. Beyond the bound an upload waits (its body
 * is not read meanwhile: TCP backpressure) up to `maxWaitMs`, then gets 429 RATE_LIMITED with
 * Retry-After. Small JSON-form batches take no slot (see ingest-small.ts).
 */
export class UploadSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    /** Uploads at once; the API uses DB_POOL_SIZE - 2 (at least 1), keeping connections for reads. */
    readonly capacity: number,
    private readonly maxWaitMs = 30_000,
  ) {}

  /** Waits for a slot; returns its release function (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.active >= this.capacity) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(
            new AppError(
              'RATE_LIMITED',
              `This server is ingesting ${this.capacity} uploads already; retry shortly.`,
              undefined,
              { 'Retry-After': '10' },
            ),
          );
        }, this.maxWaitMs);
        this.waiting.push(wake);
      });
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** Uploads in progress. */
  get inUse(): number {
    return this.active;
  }
}
