import { Gauge } from 'prom-client';
import { AppError } from '../core/errors';
import { registry } from '../core/metrics';

const budgets = new Set<MemoryBudget>();

new Gauge({
  name: 'docbatch_json_body_bytes',
  help: 'JSON-form request body bytes held in memory by this API process (state="reserved" now, "peak" since start), bounded by JSON_BODY_MEMORY_BYTES.',
  labelNames: ['state'],
  registers: [registry],
  collect() {
    let reserved = 0;
    let peak = 0;
    for (const b of budgets) {
      reserved += b.inUse;
      peak = Math.max(peak, b.peak);
    }
    this.set({ state: 'reserved' }, reserved);
    this.set({ state: 'peak' }, peak);
  },
});

/**
 * Bounds the bytes of JSON-form request bodies held in memory at once by one API process (issue 16:
 * twelve concurrent 62 MB JSON bodies took the API from 128 MB to 1.4 GB resident). A body reserves
 * its bytes as they arrive; beyond the budget its reading waits (TCP backpressure: the client's
 * send blocks) until other bodies are released, up to `maxWaitMs`, then 429 RATE_LIMITED. One body
 * larger than the whole budget is still read alone (the per-body limit is MAX_JSON_BODY_BYTES).
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: { bytes: number; wake: () => void }[] = [];
  /** Most bytes ever reserved at once (for tests and the benchmark). */
  peak = 0;

  constructor(
    readonly capacity: number,
    private readonly maxWaitMs = 30_000,
  ) {
    budgets.add(this);
  }

  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes` (waiting while the budget is full); the returned function releases them. */
  async reserve(bytes: number): Promise<() => void> {
    if (this.used > 0 && this.used + bytes > this.capacity) {
      await new Promise<void>((resolve, reject) => {
        const entry = {
          bytes,
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
              'This server is reading too many large JSON bodies at once (JSON_BODY_MEMORY_BYTES); retry shortly, or use the streamed NDJSON form.',
              undefined,
              { 'Retry-After': '5' },
            ),
          );
        }, this.maxWaitMs);
        this.waiting.push(entry);
      });
    } else {
      this.used += bytes;
    }
    this.peak = Math.max(this.peak, this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.wakeNext();
    };
  }

  private wakeNext(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (this.used > 0 && this.used + next.bytes > this.capacity) return;
      this.waiting.shift();
      this.used += next.bytes;
      this.peak = Math.max(this.peak, this.used);
      next.wake();
    }
  }
}
